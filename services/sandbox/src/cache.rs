//! A bounded cache of prepared agents, keyed by binary SHA-256.

use std::collections::HashMap;
use std::sync::Mutex;

use bazaar_domain::Sha256;

use crate::PreparedAgent;

/// Least-recently-used eviction over a small map: capacities are tens to hundreds of
/// modules, so a linear scan on eviction costs less than the bookkeeping of a linked list.
#[derive(Debug)]
pub(crate) struct ModuleCache {
    capacity: usize,
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    clock: u64,
    entries: HashMap<Sha256, (PreparedAgent, u64)>,
}

impl ModuleCache {
    pub(crate) fn new(capacity: usize) -> Self {
        ModuleCache {
            capacity: capacity.max(1),
            state: Mutex::new(CacheState::default()),
        }
    }

    pub(crate) fn get(&self, hash: &Sha256) -> Option<PreparedAgent> {
        let mut state = self.state.lock().expect("module cache lock poisoned");
        state.clock += 1;
        let now = state.clock;
        let (agent, last_used) = state.entries.get_mut(hash)?;
        *last_used = now;
        Some(agent.clone())
    }

    pub(crate) fn insert(&self, hash: Sha256, agent: PreparedAgent) {
        let mut state = self.state.lock().expect("module cache lock poisoned");
        state.clock += 1;
        let now = state.clock;
        if !state.entries.contains_key(&hash) && state.entries.len() >= self.capacity {
            let oldest = state
                .entries
                .iter()
                .min_by_key(|(_, (_, last_used))| *last_used)
                .map(|(hash, _)| hash.clone());
            if let Some(oldest) = oldest {
                state.entries.remove(&oldest);
            }
        }
        state.entries.insert(hash, (agent, now));
    }

    pub(crate) fn len(&self) -> usize {
        self.state
            .lock()
            .expect("module cache lock poisoned")
            .entries
            .len()
    }
}
