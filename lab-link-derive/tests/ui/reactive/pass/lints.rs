//! The generated items are documented, `Debug`, and raise no lint in a
//! crate that denies the workspace's lints.
#![deny(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    unused_qualifications,
    warnings
)]

/// A public module.
pub mod public {
    // In scope, so that a generated path naming them in full would be an
    // unused qualification.
    #[allow(unused_imports)]
    use std::{fmt::Debug, ops::Deref, result::Result, string::String};

    use lab_link::Reactive;
    use serde::Serialize;

    /// A public state.
    #[derive(Reactive, Serialize, Debug, Default)]
    pub struct Channel {
        /// A public field.
        pub voltage: f64,
        /// A private field: its setter is private too.
        limit: f64,
        /// A tracked list.
        pub samples: Vec<u32>,
    }

    impl Channel {
        /// The limit.
        pub fn limit(&self) -> f64 {
            self.limit
        }
    }
}

mod private {
    use lab_link::Reactive;
    use serde::Serialize;

    #[derive(Reactive, Serialize, Default)]
    pub(crate) struct Hidden {
        pub(crate) value: u8,
        unused: bool,
    }
}

fn main() {
    let sync = lab_link::LabSync::new(public::Channel::default());
    sync.mutate(|channel| {
        channel.set_voltage(1.0).unwrap();
        channel.samples().push(1).unwrap();
        assert_eq!(channel.limit(), 0.0);
        assert!(format!("{channel:?}").starts_with("ChannelTracked"));
    });
    let hidden = lab_link::LabSync::new(private::Hidden::default());
    hidden.mutate(|hidden| hidden.set_value(1).unwrap());
}
