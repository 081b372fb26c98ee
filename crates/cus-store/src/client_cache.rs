//! The clients a node has read, kept in memory: every token, introspection and authorize
//! request names a client, and clients change a few times a year. Reading them from the
//! database each time was most of the work of a `client_credentials` request.
//!
//! Every client write raises the `client_changes` counter in its own transaction. A node
//! drops what it keeps when it writes a client itself, and when it finds the counter
//! moved: it reads the counter when [`CHECK_EVERY`] has passed since it last did, before
//! answering from memory. So a change made on another node, or by the CLI, is seen
//! everywhere within a second; a node that finds nothing moved still starts afresh every
//! [`KEEP_AT_MOST`], which bounds how long it could miss a write that did not raise the
//! counter (a node of the previous release, during a rolling upgrade).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cus_core::{Client, ClientId};

/// How stale a node's clients may be after another node changed one.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long a node keeps its clients however still the counter stays.
pub const KEEP_AT_MOST: Duration = Duration::from_secs(60);
/// A bound on memory whatever names requests carry: only clients that exist are kept,
/// and past this many nothing more is.
const MAX_CLIENTS: usize = 10_000;

#[derive(Default)]
pub(crate) struct ClientCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    clients: HashMap<String, Arc<Client>>,
    /// The counter's value when last read; `None` before the first read.
    generation: Option<i64>,
    checked: Option<Instant>,
    started: Option<Instant>,
    /// Raised at each drop: a read begun before a drop must not store what it read after.
    epoch: u64,
}

/// What a lookup found: the client, or a ticket to fill the cache once the database answered.
pub(crate) enum Lookup {
    Hit(Arc<Client>),
    Miss(Ticket),
}

/// Whether the counter must be read before the cache may answer.
pub(crate) struct Ticket {
    epoch: u64,
}

impl ClientCache {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain map: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the counter is due to be read (then `observe` it before `lookup`).
    pub(crate) fn due(&self, now: Instant) -> bool {
        let state = self.state();
        state
            .checked
            .is_none_or(|checked| now.duration_since(checked) >= CHECK_EVERY)
    }

    /// The counter as just read: everything goes if it moved or the cache is old.
    pub(crate) fn observe(&self, generation: i64, now: Instant) {
        let mut state = self.state();
        let moved = state.generation != Some(generation);
        let old = state
            .started
            .is_none_or(|started| now.duration_since(started) >= KEEP_AT_MOST);
        if moved || old {
            state.clients.clear();
            state.epoch += 1;
            state.started = Some(now);
            state.generation = Some(generation);
        }
        state.checked = Some(now);
    }

    /// Forgets everything (this node wrote a client, or could not read the counter).
    pub(crate) fn drop_all(&self) {
        let mut state = self.state();
        state.clients.clear();
        state.epoch += 1;
        state.checked = None;
    }

    pub(crate) fn lookup(&self, id: &ClientId) -> Lookup {
        let state = self.state();
        match state.clients.get(&id.0) {
            Some(client) => Lookup::Hit(Arc::clone(client)),
            None => Lookup::Miss(Ticket { epoch: state.epoch }),
        }
    }

    /// Keeps what the database answered, unless the cache was dropped meanwhile (the
    /// answer may predate the change that dropped it).
    pub(crate) fn fill(&self, ticket: Ticket, client: &Client) {
        let mut state = self.state();
        if state.epoch == ticket.epoch && state.clients.len() < MAX_CLIENTS {
            state
                .clients
                .insert(client.client_id.0.clone(), Arc::new(client.clone()));
        }
    }
}
