//! The per-run resource limiter: caps linear memory and tables, and remembers when a guest
//! hit the memory cap so the result can say so plainly.

/// The error a guest is stopped with when it asks for more memory than allowed.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes exceeded (the agent asked for {requested} bytes)")]
pub(crate) struct MemoryLimitExceeded {
    pub limit: usize,
    pub requested: usize,
}

#[derive(Debug)]
pub(crate) struct RunLimits {
    pub memory_limit: usize,
    pub table_elements_limit: usize,
    pub memory_exceeded: Option<(usize, usize)>,
}

impl wasmtime::ResourceLimiter for RunLimits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_exceeded = Some((self.memory_limit, desired));
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit: self.memory_limit,
                requested: desired,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements_limit)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }

    fn memories(&self) -> usize {
        1
    }
}
