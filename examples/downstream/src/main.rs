//! Serves the power supply on `127.0.0.1:8000` (or the address given as
//! the first argument) with the control panel lab-link generates at `/`:
//! no page, script or style of this crate's own.

use std::time::Duration;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8000".to_owned());
    let (sync, readback) = downstream::power_supply_with_readback();
    let server = lab_link::Server::builder()
        .shutdown_signal(lab_link::server::terminate_signal())
        .bind(sync.clone(), addr)
        .await?;
    println!("power supply listening on http://{}", server.local_addr());
    // A stand-in for the instrument's readback: the setpoint while the
    // output is on, else zero.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            let state = sync.read();
            let volts = if state.output_enabled {
                state.setpoint_v
            } else {
                0.0
            };
            drop(state);
            if readback.append([volts]).is_err() {
                break;
            }
        }
    });
    server.run().await;
    Ok(())
}
