//! A path that does not exist says where it was looked for.

mod events {
    herald::include_events!("no-such-catalog.yaml");
}

fn main() {}
