//! The per-run ordering rules every backend applies, for events carrying
//! the `seq` extension:
//!
//! - the next expected `seq` is `last_event_seq + 1`; a run that has not
//!   applied any `seq` yet takes any `seq <= 1` as its first;
//! - the expected `seq` is applied, then any parked events it unblocks;
//! - a `seq` ahead of the expected one is stored and parked;
//! - a `seq` at or below `last_event_seq` is stored as stale, never applied;
//! - events without `seq` apply on arrival and leave `last_event_seq` alone.
//!
//! An event whose status move is illegal still consumes its `seq` (the run
//! must not stall behind it) but changes nothing else.
//!
//! [`super::RunState`] applies these rules for every backend.

/// The first `seq` a run without any applied `seq` waits for.
pub const FIRST_SEQ: i64 = 1;

/// Where a `seq` falls relative to a run's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The one the run waits for: apply it.
    Next,
    /// Past a gap: park it until `expected` arrives or the gap times out.
    Ahead {
        /// The `seq` the run waits for.
        expected: i64,
    },
    /// At or below what was applied: stale.
    Behind {
        /// The run's `last_event_seq`.
        last: i64,
    },
}

/// The `seq` a run with `last_event_seq` waits for.
pub fn expected(last_event_seq: Option<i64>) -> i64 {
    last_event_seq.map_or(FIRST_SEQ, |l| l + 1)
}

/// Where `seq` falls for a run whose highest applied `seq` is
/// `last_event_seq`.
pub fn position(last_event_seq: Option<i64>, seq: i64) -> Position {
    match last_event_seq {
        Some(last) if seq <= last => Position::Behind { last },
        None if seq <= FIRST_SEQ => Position::Next,
        _ if seq == expected(last_event_seq) => Position::Next,
        _ => Position::Ahead { expected: expected(last_event_seq) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_run_takes_any_seq_up_to_the_first() {
        assert_eq!(position(None, 1), Position::Next);
        assert_eq!(position(None, 0), Position::Next);
        assert_eq!(position(None, -3), Position::Next);
        assert_eq!(position(None, 2), Position::Ahead { expected: 1 });
    }

    #[test]
    fn after_some_seq_only_the_successor_applies() {
        assert_eq!(position(Some(4), 5), Position::Next);
        assert_eq!(position(Some(4), 7), Position::Ahead { expected: 5 });
        assert_eq!(position(Some(4), 4), Position::Behind { last: 4 });
        assert_eq!(position(Some(4), 1), Position::Behind { last: 4 });
        assert_eq!(expected(Some(4)), 5);
        assert_eq!(expected(None), FIRST_SEQ);
    }
}
