//! The in-memory reference store: the whole [`Store`] contract in a few
//! maps behind one lock, with every decision about runs left to the shared
//! planner ([`crate::runstate::RunState`]).
//!
//! It exists so the backend conformance suite can run in-process, and so a
//! new backend has a short, obviously correct model to be compared with.
//! Nothing survives the process, so it breaks the server's first
//! invariant ("a 2xx means durably stored"): it is not offered by the
//! `herald-server` binary.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::{
    EventCursor, EventPage, EventQuery, HistoryEntry, INLINE_ITEMS, Item, ItemPage, NO_SEQ, NewEvent, Outcome, Reads, RunPage, RunQuery,
    RunView, Store, StoreError, StoredEvent,
};
use crate::change::RunChange;
use crate::clock::{millis_to_rfc3339, now_millis};
use crate::runstate::{EventState, History, Incoming, ItemKey, Need, Parked, Rules, RunHead, RunState, Writes};

/// How many history entries `run()` returns (the newest).
const HISTORY_LIMIT: usize = 100;

/// A stored event.
struct Row {
    id: String,
    /// `None`: the event belongs to no run.
    run_id: Option<String>,
    seq: Option<i64>,
    received_at: i64,
    state: EventState,
    /// Kept while parked.
    change: Option<RunChange>,
    envelope: String,
}

#[derive(Default)]
struct Inner {
    /// Stored events; a row's index is its key.
    events: Vec<Row>,
    by_identity: HashMap<(String, String), usize>,
    runs: BTreeMap<String, RunHead>,
    /// Items by run, collection, key.
    items: BTreeMap<(String, String, String), Value>,
    history: HashMap<String, Vec<History>>,
    closed: bool,
}

/// A [`Store`] in memory. See the module docs.
pub struct MemoryStore {
    rules: Rules,
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store for runs kept by `rules`.
    pub fn new(rules: Rules) -> Self {
        MemoryStore { rules, inner: Mutex::new(Inner::default()) }
    }

    /// Take requests again after [`Store::close`], with everything stored
    /// before: what opening a durable store again does (it is the same
    /// process, so nothing was lost).
    pub fn reopen(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.closed = false;
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StoreError> {
        let inner = self.inner.lock().map_err(|_| StoreError::internal("the in-memory store is poisoned"))?;
        if inner.closed {
            return Err(StoreError::unavailable("the store is closed (server shutting down)"));
        }
        Ok(inner)
    }
}

impl Inner {
    /// Answer the planner's question from the maps.
    fn provide(&self, state: &mut RunState<usize>, need: Need) {
        let run_id = state.head().run_id.clone();
        match need {
            Need::Parked => {
                let parked = self
                    .events
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.run_id.as_ref() == Some(&run_id) && r.state == EventState::Parked)
                    .filter_map(|(key, r)| Some(Parked { key, id: r.id.clone(), seq: r.seq?, change: r.change.clone()? }))
                    .collect();
                state.provide_parked(parked);
            }
            Need::Items(asked) => {
                for item in asked {
                    let value = self.items.get(&(run_id.clone(), item.collection.clone(), item.key.clone())).cloned();
                    state.provide_item(item, value);
                }
            }
        }
    }

    /// Persist one run's plan.
    fn persist(&mut self, state: &mut RunState<usize>) {
        let Writes { cleared, items, settles, history } = state.take_writes();
        let run_id = state.head().run_id.clone();
        for c in cleared {
            self.items.retain(|(r, coll, _), _| !(*r == run_id && *coll == c));
        }
        for (ItemKey { collection, key }, value) in items {
            let k = (run_id.clone(), collection, key);
            match value {
                Some(v) => self.items.insert(k, v),
                None => self.items.remove(&k),
            };
        }
        for s in settles {
            if let Some(row) = self.events.get_mut(s.key) {
                row.state = s.state;
                row.change = s.change;
            }
        }
        self.history.entry(run_id.clone()).or_default().extend(history);
        self.runs.insert(run_id, state.head().clone());
    }

    fn state_of<'a>(&self, planning: &'a mut HashMap<String, RunState<usize>>, run_id: &str, initial: &str) -> &'a mut RunState<usize> {
        planning
            .entry(run_id.to_owned())
            .or_insert_with(|| RunState::new(self.runs.get(run_id).cloned().unwrap_or_else(|| RunHead::new(run_id, initial))))
    }

    fn view(&self, head: &RunHead) -> RunView {
        RunView {
            run_id: head.run_id.clone(),
            status: head.status.clone(),
            last_event_seq: head.last_event_seq,
            updated_at: millis_to_rfc3339(head.updated_at),
            parked_events: head.parked_events,
            applied_events: head.applied_events,
            item_counts: BTreeMap::new(),
            doc: head.fields.clone(),
        }
    }
}

/// Run one planner step, answering its questions from `inner`.
fn step<T>(inner: &Inner, state: &mut RunState<usize>, f: impl FnMut(&mut RunState<usize>) -> Result<T, Need>) -> Result<T, StoreError> {
    state.decide(
        f,
        |state, need| {
            inner.provide(state, need);
            Ok(())
        },
        || StoreError::internal("the planner kept asking for data it was given"),
    )
}

impl Store for MemoryStore {
    type Reads = Self;

    fn reads(&self) -> &Self {
        self
    }

    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<Outcome>, StoreError> {
        let mut inner = self.lock()?;
        let now = now_millis();
        let mut planning: HashMap<String, RunState<usize>> = HashMap::new();
        let mut outcomes = Vec::with_capacity(events.len());
        for ev in &events {
            let identity = (ev.source.clone(), ev.id.clone());
            if let Some(&key) = inner.by_identity.get(&identity) {
                outcomes.push(Outcome::Duplicate { run_id: inner.events[key].run_id.clone() });
                continue;
            }
            let key = inner.events.len();
            inner.events.push(Row {
                id: ev.id.clone(),
                run_id: ev.run_id.clone(),
                seq: ev.seq,
                received_at: now,
                state: EventState::Applied,
                change: None,
                envelope: ev.envelope.clone(),
            });
            inner.by_identity.insert(identity, key);
            let Some(run_id) = &ev.run_id else {
                // Stored (above), sequenced and applied nowhere.
                outcomes.push(Outcome::Stored { seq: ev.seq });
                continue;
            };
            let state = inner.state_of(&mut planning, run_id, &self.rules.initial_status);
            let incoming = Incoming { key, source: &ev.source, id: &ev.id, seq: ev.seq, change: &ev.change };
            outcomes.push(step(&inner, state, |s| s.apply(&self.rules.layout, &incoming, now))?);
        }
        for state in planning.values_mut() {
            inner.persist(state);
        }
        Ok(outcomes)
    }

    async fn release_gaps(&self, timeout: Duration) -> Result<usize, StoreError> {
        let mut inner = self.lock()?;
        let now = now_millis();
        let cutoff = now - i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let mut waiting: Vec<String> = inner
            .events
            .iter()
            .filter(|r| r.state == EventState::Parked && r.received_at <= cutoff)
            .filter_map(|r| r.run_id.clone())
            .collect();
        waiting.sort();
        waiting.dedup();
        let mut applied = 0;
        for run_id in waiting {
            let mut planning = HashMap::new();
            let state = inner.state_of(&mut planning, &run_id, &self.rules.initial_status);
            applied += step(&inner, state, |s| s.skip_gap(&self.rules.layout, now))?.unwrap_or(0);
            for state in planning.values_mut() {
                inner.persist(state);
            }
        }
        Ok(applied)
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.lock().map(drop)
    }

    async fn close(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.closed = true;
        }
    }
}

impl Reads for MemoryStore {
    async fn run(&self, run_id: &str) -> Result<Option<(RunView, Vec<HistoryEntry>)>, StoreError> {
        let inner = self.lock()?;
        let Some(head) = inner.runs.get(run_id) else { return Ok(None) };
        let mut view = inner.view(head);
        for c in self.rules.layout.collections() {
            let items: Vec<(&String, &Value)> = inner
                .items
                .range((run_id.to_owned(), c.clone(), String::new())..)
                .take_while(|((r, coll, _), _)| r == run_id && coll == c)
                .map(|((_, _, k), v)| (k, v))
                .collect();
            if items.is_empty() {
                continue;
            }
            view.item_counts.insert(c.clone(), i64::try_from(items.len()).unwrap_or(i64::MAX));
            if items.len() <= INLINE_ITEMS {
                let map = items.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                view.doc.insert(c.clone(), Value::Object(map));
            }
        }
        let all = inner.history.get(run_id).map(Vec::as_slice).unwrap_or_default();
        let history = all[all.len().saturating_sub(HISTORY_LIMIT)..]
            .iter()
            .map(|h| HistoryEntry { at: millis_to_rfc3339(h.at), kind: h.kind.as_str().to_owned(), detail: h.detail.clone() })
            .collect();
        Ok(Some((view, history)))
    }

    async fn runs(&self, q: RunQuery) -> Result<RunPage, StoreError> {
        let inner = self.lock()?;
        let limit = q.limit.max(1);
        let after = q.cursor.unwrap_or_default();
        let runs: Vec<RunView> = inner
            .runs
            .range::<String, _>((std::ops::Bound::Excluded(&after), std::ops::Bound::Unbounded))
            .filter(|(_, h)| q.status.as_ref().is_none_or(|s| *s == h.status))
            .take(limit + 1)
            .map(|(_, h)| inner.view(h))
            .collect();
        Ok(RunPage::from_overfetch(runs, limit))
    }

    async fn run_events(&self, run_id: &str, query: EventQuery) -> Result<EventPage, StoreError> {
        let inner = self.lock()?;
        let after = query.after().map(|(ord, key)| (ord, key.map_or(usize::MAX, |k| k.parse().unwrap_or(usize::MAX))));
        let mut rows: Vec<((i64, usize), &Row)> = inner
            .events
            .iter()
            .enumerate()
            .filter(|(_, r)| r.run_id.as_deref() == Some(run_id))
            .map(|(key, r)| ((r.seq.unwrap_or(NO_SEQ), key), r))
            .filter(|(position, _)| after.is_none_or(|a| *position > a))
            .collect();
        rows.sort_by_key(|(position, _)| *position);
        let found = rows
            .into_iter()
            .take(query.limit + 1)
            .map(|((ord, key), r)| {
                let event = StoredEvent {
                    seq: r.seq,
                    state: r.state.as_str().to_owned(),
                    received_at: millis_to_rfc3339(r.received_at),
                    event: StoredEvent::envelope(r.envelope.clone())
                        .map_err(|e| StoreError::internal(format!("stored event {key} is not JSON: {e}")))?,
                };
                Ok((EventCursor { ord, key: key.to_string() }, event, r.envelope.len()))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(EventPage::from_overfetch(found, query.limit))
    }

    async fn run_items(&self, run_id: &str, collection: &str, cursor: Option<String>, limit: usize) -> Result<ItemPage, StoreError> {
        let inner = self.lock()?;
        let start = (run_id.to_owned(), collection.to_owned(), cursor.clone().unwrap_or_default());
        let items = inner
            .items
            .range(start..)
            .take_while(|((r, c, _), _)| r == run_id && c == collection)
            .filter(|((_, _, k), _)| cursor.as_ref().is_none_or(|c| k > c))
            .take(limit + 1)
            .map(|((_, _, key), value)| Item { key: key.clone(), value: value.clone() })
            .collect();
        Ok(ItemPage::from_overfetch(items, limit))
    }
}
