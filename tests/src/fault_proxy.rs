//! [`FaultProxy`]: a TCP port in front of a backend that can stop answering and answer again.

use std::sync::Arc;

use tokio::net::TcpStream;

/// A TCP forwarder in front of a real server whose port can be "stopped" (connections
/// refused, open ones cut) and started again, to test outages and recovery.
pub struct FaultProxy {
    pub port: u16,
    target: String,
    running: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl FaultProxy {
    pub async fn start(target: &str) -> anyhow::Result<Arc<Self>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let proxy = Arc::new(Self { port, target: target.to_owned(), running: tokio::sync::Mutex::new(None) });
        proxy.serve(listener).await;
        Ok(proxy)
    }

    async fn serve(&self, listener: tokio::net::TcpListener) {
        let target = self.target.clone();
        let task = tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                links.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        *self.running.lock().await = Some(task);
    }

    /// The port stops answering: new connections are refused and open ones are cut.
    pub async fn stop(&self) {
        if let Some(task) = self.running.lock().await.take() {
            // Dropping the task drops the listener and, with the JoinSet, every link.
            task.abort();
            let _ = task.await;
        }
    }

    /// The port answers again.
    pub async fn resume(&self) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await?;
        self.serve(listener).await;
        Ok(())
    }
}
