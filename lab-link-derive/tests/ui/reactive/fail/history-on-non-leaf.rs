//! `history` records the changes of one number, bool or string: on a
//! struct or a list it is refused at the field's type (a pattern in
//! `ServerConfig::history` records a subtree).
use lab_link::Reactive;
use serde::Serialize;

#[derive(Reactive, Serialize, Default)]
struct Channel {
    #[reactive(history)]
    bias_voltage: f64,
}

#[derive(Reactive, Serialize)]
struct AppState {
    #[reactive(history)]
    channels: Vec<f64>,
    #[reactive(history)]
    main: Channel,
    #[reactive(history)]
    label: Option<String>,
}

fn main() {}
