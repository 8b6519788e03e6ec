//! The node's bound on live CLI processes, as a ledger of slots.
//!
//! Every CLI this node runs holds one [`Slot`]: a session's agent ([`crate::AgentPool`]) or a
//! warm agent ([`crate::WarmPool`]). A slot is given back when its holder is dropped, after
//! its process is closed, so the processes alive never outnumber the slots. Whoever cannot get
//! a slot at once may queue: a freed slot goes to the longest-waiting holder of a ticket, first
//! come first served, and nobody takes a free slot ahead of the queue.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use overseer_domain::SessionId;
use tokio::sync::oneshot;

/// A bounded number of slots for live agent processes, with a fair queue.
pub struct AgentSlots {
    capacity: usize,
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    held: usize,
    waiters: VecDeque<Waiter>,
    next_ticket: u64,
}

struct Waiter {
    ticket: u64,
    session: SessionId,
    hand: oneshot::Sender<Slot>,
}

impl std::fmt::Debug for AgentSlots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("AgentSlots")
            .field("capacity", &self.capacity)
            .field("held", &state.held)
            .field("waiting", &state.waiters.len())
            .finish()
    }
}

/// The right to run one CLI process. Dropping it frees the slot (or hands it to the first
/// waiter), so drop it only once the process it stood for has ended.
pub struct Slot {
    /// `None` once disarmed: a slot that was handed on, or never counted.
    slots: Option<Arc<AgentSlots>>,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").finish_non_exhaustive()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            slots.give_back();
        }
    }
}

/// A place in the queue for a slot.
#[derive(Debug)]
pub struct Ticket {
    number: u64,
    /// Receives the slot when it is this ticket's turn.
    pub(crate) slot: oneshot::Receiver<Slot>,
}

impl AgentSlots {
    /// A ledger of `capacity` slots (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            capacity: capacity.max(1),
            state: Mutex::new(SlotState::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many slots there are.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many slots are held now.
    #[must_use]
    pub fn held(&self) -> usize {
        self.state().held
    }

    /// A free slot, unless none is free or somebody already waits for one.
    #[must_use]
    pub fn try_take(self: &Arc<Self>) -> Option<Slot> {
        let mut state = self.state();
        if state.held >= self.capacity || !state.waiters.is_empty() {
            return None;
        }
        state.held += 1;
        Some(Slot {
            slots: Some(Arc::clone(self)),
        })
    }

    /// Whether anybody waits for a slot.
    #[must_use]
    pub fn has_waiters(&self) -> bool {
        !self.state().waiters.is_empty()
    }

    /// How many wait for a slot.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.state().waiters.len()
    }

    /// Joins the end of the queue for `session`.
    #[must_use]
    pub fn enqueue(&self, session: SessionId) -> Ticket {
        let mut state = self.state();
        let number = state.next_ticket;
        state.next_ticket += 1;
        let (hand, slot) = oneshot::channel();
        state.waiters.push_back(Waiter {
            ticket: number,
            session,
            hand,
        });
        Ticket { number, slot }
    }

    /// Leaves the queue (the waiter gave up). A slot already handed to the ticket is freed
    /// when its receiver is dropped.
    pub fn cancel(&self, ticket: &Ticket) {
        self.state().waiters.retain(|w| w.ticket != ticket.number);
    }

    /// Where `session` stands in the queue: 1 is next; `None` when it does not wait.
    #[must_use]
    pub fn position(&self, session: SessionId) -> Option<usize> {
        self.state()
            .waiters
            .iter()
            .position(|w| w.session == session)
            .map(|at| at + 1)
    }

    fn give_back(self: Arc<Self>) {
        let mut state = self.state();
        while let Some(waiter) = state.waiters.pop_front() {
            let slot = Slot {
                slots: Some(Arc::clone(&self)),
            };
            match waiter.hand.send(slot) {
                Ok(()) => return,
                // The waiter gave up: the slot must not count twice, nor free itself while
                // the lock is held.
                Err(mut unsent) => unsent.slots = None,
            }
        }
        state.held = state.held.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn session(n: u128) -> SessionId {
        SessionId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn slots_are_bounded_and_come_back_when_dropped() {
        let slots = AgentSlots::new(2);
        let a = slots.try_take().unwrap();
        let _b = slots.try_take().unwrap();
        assert!(slots.try_take().is_none());
        drop(a);
        assert_eq!(slots.held(), 1);
        assert!(slots.try_take().is_some());
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_first_waiter_and_nobody_jumps_the_queue() {
        let slots = AgentSlots::new(1);
        let held = slots.try_take().unwrap();
        let first = slots.enqueue(session(1));
        let second = slots.enqueue(session(2));
        assert_eq!(slots.position(session(2)), Some(2));
        drop(held);
        assert!(slots.try_take().is_none(), "the queue is served first");
        let slot = first.slot.await.unwrap();
        assert_eq!(slots.position(session(2)), Some(1));
        drop(slot);
        let _slot = second.slot.await.unwrap();
        assert_eq!(slots.held(), 1);
    }

    #[tokio::test]
    async fn a_waiter_that_gave_up_is_skipped() {
        let slots = AgentSlots::new(1);
        let held = slots.try_take().unwrap();
        let gone = slots.enqueue(session(1));
        let next = slots.enqueue(session(2));
        drop(gone);
        drop(held);
        let _slot = next.slot.await.unwrap();
        assert_eq!(slots.held(), 1);
    }

    #[test]
    fn a_cancelled_ticket_leaves_the_queue_and_the_slot_stays_free() {
        let slots = AgentSlots::new(1);
        let held = slots.try_take().unwrap();
        let ticket = slots.enqueue(session(1));
        slots.cancel(&ticket);
        drop(ticket);
        drop(held);
        assert_eq!(slots.held(), 0);
        assert!(slots.try_take().is_some());
    }
}
