//! A throwaway `redis-server` on a loopback port, for the Redis store's
//! tests. Missing `redis-server`: a notice and `None`, or a failure under
//! `ATPROTO_E2E=required`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running server, killed on drop.
pub struct RedisServer {
    /// `redis://127.0.0.1:<port>/`.
    pub url: String,
    child: Child,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RedisServer {
    /// Starts one, or returns `None` (with a notice) when redis-server is
    /// not installed and the suite is not required.
    pub async fn start() -> Option<RedisServer> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        };
        let spawned = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("ATPROTO_E2E").is_ok_and(|v| v == "required") {
                    panic!("ATPROTO_E2E=required but redis-server cannot start: {e}");
                }
                eprintln!("NOTICE: skipping Redis test: redis-server not available ({e})");
                return None;
            }
        };
        let server = RedisServer {
            url: format!("redis://127.0.0.1:{port}/"),
            child,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(server);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start listening on {port}");
    }
}
