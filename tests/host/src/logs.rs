//! The component's stdout/stderr: echoed to the host's stderr and kept in a
//! shared buffer that tests read.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// A shared log buffer. Clones share it.
#[derive(Clone, Default)]
pub struct LogSink {
    buf: Arc<Mutex<Vec<u8>>>,
    echo: bool,
}

impl LogSink {
    pub fn new(echo: bool) -> Self {
        LogSink {
            buf: Arc::default(),
            echo,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Append guest output.
    pub fn write(&self, bytes: &[u8]) {
        self.lock().extend_from_slice(bytes);
        if self.echo {
            // eprint! (not io::stderr) so that libtest captures it per test.
            eprint!("{}", String::from_utf8_lossy(bytes));
        }
    }

    /// Append a line from the host itself (traps, refused requests).
    pub fn host_line(&self, line: &str) {
        self.write(format!("[image-tags-host] {line}\n").as_bytes());
    }

    /// Everything logged so far, leaving the buffer empty.
    pub fn take(&self) -> String {
        let bytes = std::mem::take(&mut *self.lock());
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Everything logged so far.
    pub fn snapshot(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }
}

/// One guest output stream (stdout or stderr) feeding a [`LogSink`].
#[derive(Clone)]
pub struct GuestOutput(pub LogSink);

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0.write(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
