//! Fields serde skips get a setter that records nothing and no getter.
use lab_link::{LabSync, MutationError, Reactive};
use serde::Serialize;

/// Not serialisable and not `Reactive`: fine in a skipped field.
#[derive(Default)]
struct Handle(u32);

#[derive(Reactive, Serialize, Default)]
struct Device {
    enabled: bool,
    #[serde(skip)]
    handle: Handle,
    #[serde(skip_serializing)]
    reads: u64,
}

fn main() -> Result<(), MutationError> {
    let sync = LabSync::new(Device::default());
    let (_, patches) = sync.subscribe_channel();
    sync.mutate(|device| {
        device.set_handle(Handle(3));
        device.set_reads(10);
    });
    assert!(patches.try_recv().is_err(), "skipped fields record nothing");
    assert_eq!(sync.read().handle.0, 3);
    assert_eq!(sync.read().reads, 10);
    sync.try_mutate(|device| device.set_enabled(true))?;
    assert_eq!(patches.try_recv().unwrap().ops().len(), 1);
    sync.verify_mirror().unwrap();
    Ok(())
}
