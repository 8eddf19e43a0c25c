//! Generic and recursive structs: type parameters get the bounds their
//! fields need (`Reactive`, or `Serialize` for leaf fields), nothing more.
use std::marker::PhantomData;

use lab_link::{LabSync, MutationError, Reactive};
use serde::Serialize;
use serde_json::json;

/// Neither `Serialize` nor `Reactive`: only used in a skipped field.
struct Unit;

#[derive(Reactive, Serialize)]
struct Series<T, L, const N: usize>
where
    T: Clone,
{
    items: Vec<T>,
    #[reactive(leaf)]
    label: L,
    #[serde(skip)]
    unit: PhantomData<Unit>,
    #[serde(skip)]
    buffer: [u8; N],
}

#[derive(Reactive, Serialize, Default)]
struct Tree {
    value: f64,
    children: Vec<Tree>,
}

#[derive(Reactive, Serialize)]
struct Node<T> {
    value: T,
    children: Vec<Node<T>>,
}

/// Leaf only, so a `Serialize` bound is enough for `L`.
#[derive(Serialize)]
struct Label(&'static str);

fn main() -> Result<(), MutationError> {
    let sync = LabSync::new(Series {
        items: vec![1.5_f64],
        label: Label("a"),
        unit: PhantomData,
        buffer: [0; 2],
    });
    let (_, patches) = sync.subscribe_channel();
    sync.try_mutate(|series| {
        series.items().push(2.5)?;
        series.set_label(Label("b"))
    })?;
    let ops = serde_json::to_value(patches.try_recv().unwrap().ops()).unwrap();
    assert_eq!(
        ops,
        json!([
            {"op": "add", "path": "/items/1", "value": 2.5},
            {"op": "replace", "path": "/label", "value": "b"},
        ])
    );

    let tree = LabSync::new(Tree {
        value: 0.0,
        children: vec![Tree::default()],
    });
    tree.try_mutate(|tree| tree.children().at(0)?.set_value(1.0))?;
    tree.verify_mirror().unwrap();

    let node = LabSync::new(Node {
        value: 1_u8,
        children: Vec::new(),
    });
    node.try_mutate(|node| {
        node.children().push(Node {
            value: 2,
            children: Vec::new(),
        })
    })?;
    node.verify_mirror().unwrap();
    Ok(())
}

#[allow(dead_code)]
fn unused_series_type_is_fine(_: Series<u8, String, 0>) {}

impl Clone for Label {
    fn clone(&self) -> Self {
        Label(self.0)
    }
}
