//! The demo with presence on (`Options::presence`, the `--presence`
//! flag): a level-2 client sees who is connected and can take control;
//! another's `set_enabled` is then refused with `locked`.

use lab_link_demo::Options;
use lab_link_testkit::TestClient;
use serde_json::json;

#[tokio::test]
async fn presence_and_the_control_lock_are_on_with_the_flag() {
    let options = Options {
        port: 0,
        presence: true,
        ..Options::default()
    };
    let server = lab_link_demo::bind(&options).await.expect("binds");
    let url = format!("ws://{}/sync/ws", server.local_addr());
    let routes = server.routes().clone();
    tokio::spawn(server.run());

    let operator = TestClient::connect_level2(&url).await;
    let colleague = TestClient::connect_level2(&url).await;
    operator.wait_for_presence(|p| p.clients.len() == 2).await;
    operator.claim_control().await;
    colleague
        .expect_error("set_enabled", json!({"enabled": true}), "locked")
        .await;
    operator
        .command("set_enabled", json!({"enabled": true}))
        .await;
    colleague.wait_for_presence(|p| p.lock.is_some()).await;
    routes.shutdown();
}
