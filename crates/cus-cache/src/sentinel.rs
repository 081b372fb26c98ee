//! A connection to the master that Redis Sentinel names, which follows it through a
//! failover. The redis crate asks Sentinel once per connection it opens and has no
//! reconnecting manager for Sentinel; `ConnectionManager` would keep reconnecting to the
//! old master's address, which after a failover is down or a read-only replica.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Cmd, Pipeline, RedisConnectionInfo, RedisFuture, RedisResult, Value,
};

/// Cheap to clone: every clone shares one connection to the current master.
#[derive(Clone)]
pub(crate) struct SentinelConnection {
    shared: Arc<Shared>,
}

struct Shared {
    /// Asks the Sentinels where the master is. Behind an async lock: one lookup at a time,
    /// and callers that waited find the connection the first one opened.
    client: tokio::sync::Mutex<SentinelClient>,
    config: AsyncConnectionConfig,
    /// How many connections were opened, and the open one, numbered by that count so that
    /// a caller whose command failed drops only the connection it used, not a newer one
    /// another caller opened meanwhile.
    current: Mutex<(u64, Option<MultiplexedConnection>)>,
}

impl SentinelConnection {
    /// Finds the master `master` through `sentinels` and connects to it, logging in with
    /// `credentials` (the Sentinels themselves are asked without).
    pub(crate) async fn connect(
        sentinels: Vec<String>,
        master: &str,
        credentials: RedisConnectionInfo,
        timeout: Duration,
    ) -> RedisResult<Self> {
        let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(credentials);
        let client = SentinelClient::build(
            sentinels,
            master.to_owned(),
            Some(node),
            SentinelServerType::Master,
        )?;
        let connection = Self {
            shared: Arc::new(Shared {
                client: tokio::sync::Mutex::new(client),
                config: AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout)),
                current: Mutex::new((0, None)),
            }),
        };
        connection.open().await?;
        Ok(connection)
    }

    fn current(&self) -> Option<(u64, MultiplexedConnection)> {
        let current = self
            .shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        current.1.clone().map(|connection| (current.0, connection))
    }

    /// The open connection, or a new one to whichever node Sentinel now names master.
    async fn open(&self) -> RedisResult<(u64, MultiplexedConnection)> {
        if let Some(open) = self.current() {
            return Ok(open);
        }
        let mut client = self.shared.client.lock().await;
        if let Some(open) = self.current() {
            return Ok(open);
        }
        let connection = client
            .get_async_connection_with_config(&self.shared.config)
            .await?;
        let mut current = self
            .shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        current.0 += 1;
        current.1 = Some(connection.clone());
        Ok((current.0, connection))
    }

    /// After any error the next command asks Sentinel again. Our commands fail only when
    /// the node is gone, refuses writes (`READONLY`: it was demoted) or is not the master
    /// any more, so a fresh lookup is what each of those needs, and it costs one round trip
    /// to a Sentinel. The failed command is not repeated: it may have run (an `INCR`).
    fn forget(&self, number: u64) {
        let mut current = self
            .shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if current.0 == number {
            current.1 = None;
        }
    }
}

impl ConnectionLike for SentinelConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let (number, mut connection) = self.open().await?;
            let reply = connection.req_packed_command(cmd).await;
            if reply.is_err() {
                self.forget(number);
            }
            reply
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let (number, mut connection) = self.open().await?;
            let replies = connection
                .req_packed_commands(pipeline, offset, count)
                .await;
            if replies.is_err() {
                self.forget(number);
            }
            replies
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}
