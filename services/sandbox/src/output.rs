//! Captured stdout and stderr with a hard cap.
//!
//! wasmtime-wasi's own `MemoryOutputPipe` traps with an anonymous message when full; we want
//! to keep what fits, flag the truncation and stop the guest with an error that says which
//! stream overflowed and at what limit.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Which captured stream a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamName {
    Stdout,
    Stderr,
}

impl std::fmt::Display for StreamName {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            StreamName::Stdout => "stdout",
            StreamName::Stderr => "stderr",
        })
    }
}

#[derive(Debug)]
struct Captured {
    bytes: Vec<u8>,
    capacity: usize,
    overflowed: bool,
}

/// Where a run's output is copied as it is written (see [`crate::RunControl`]).
pub(crate) type OutputTap = tokio::sync::mpsc::UnboundedSender<(bazaar_domain::OutputStream, Bytes)>;

/// An in-memory output stream that keeps at most `capacity` bytes, and copies what it keeps
/// to a tap, if it has one.
#[derive(Debug, Clone)]
pub(crate) struct CappedPipe {
    name: StreamName,
    captured: Arc<Mutex<Captured>>,
    tap: Option<OutputTap>,
}

/// The error a guest is stopped with when it writes past its output limit.
#[derive(Debug, thiserror::Error)]
#[error("{stream} exceeded its limit of {limit} bytes")]
pub(crate) struct OutputLimitExceeded {
    pub stream: StreamName,
    pub limit: usize,
}

impl CappedPipe {
    pub(crate) fn new(name: StreamName, capacity: usize, tap: Option<OutputTap>) -> Self {
        CappedPipe {
            name,
            captured: Arc::new(Mutex::new(Captured {
                bytes: Vec::new(),
                capacity,
                overflowed: false,
            })),
            tap,
        }
    }

    /// Copies what was kept to the tap; a tap whose receiver is gone is ignored.
    fn copy_to_tap(&self, kept: &[u8]) {
        if let Some(tap) = &self.tap
            && !kept.is_empty()
        {
            let stream = match self.name {
                StreamName::Stdout => bazaar_domain::OutputStream::Stdout,
                StreamName::Stderr => bazaar_domain::OutputStream::Stderr,
            };
            let _ = tap.send((stream, Bytes::copy_from_slice(kept)));
        }
    }

    /// What was captured and whether anything was cut off.
    pub(crate) fn take(&self) -> (Vec<u8>, bool) {
        let mut captured = self.captured.lock().expect("output pipe lock poisoned");
        (std::mem::take(&mut captured.bytes), captured.overflowed)
    }

    /// Appends what fits; returns false when `bytes` did not fit whole.
    fn append(&self, bytes: &[u8]) -> bool {
        let (kept, whole) = {
            let mut captured = self.captured.lock().expect("output pipe lock poisoned");
            let room = captured.capacity - captured.bytes.len();
            if bytes.len() <= room {
                captured.bytes.extend_from_slice(bytes);
                (bytes, true)
            } else {
                captured.bytes.extend_from_slice(&bytes[..room]);
                captured.overflowed = true;
                (&bytes[..room], false)
            }
        };
        self.copy_to_tap(kept);
        whole
    }

    fn limit_error(&self) -> OutputLimitExceeded {
        let limit = self
            .captured
            .lock()
            .expect("output pipe lock poisoned")
            .capacity;
        OutputLimitExceeded {
            stream: self.name,
            limit,
        }
    }
}

/// How much a guest may hand over in one write; the cap itself is enforced in `write`.
const WRITE_PERMIT: usize = 64 * 1024;

impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if self.append(&bytes) {
            Ok(())
        } else {
            Err(StreamError::Trap(wasmtime::Error::new(self.limit_error())))
        }
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedPipe {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CappedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.append(bytes) {
            Poll::Ready(Ok(bytes.len()))
        } else {
            Poll::Ready(Err(std::io::Error::other(self.limit_error())))
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        _context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}
