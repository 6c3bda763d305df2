//! The write path: inline single writes when nothing waits, group commit otherwise.
//!
//! Every write is one closure over the writer connection. A write that finds the writer
//! idle (no queue, mutex free, no other process holding the write lock) and needs no
//! fsync runs inline in its own `BEGIN IMMEDIATE` transaction: on small machines a
//! hand-off to a blocking thread costs several times the write itself.
//!
//! Otherwise it joins a queue. One drainer on the blocking pool takes the queue in groups
//! and runs each group in one transaction, every write in its own savepoint, so a write
//! that fails rolls back alone; after the single commit each caller gets its own result.
//! Many concurrent callers thus share one commit (and with `Durability::Full`, one
//! fsync), and no caller's future resolves before its write is committed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use memory_core::{ErrorKind, Timestamp};
use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Result, SqliteError};
use crate::store::{Inner, lock};

/// Most writes committed together.
const MAX_GROUP: usize = 512;

/// Why a whole group failed; every write in it receives this.
#[derive(Debug, Clone)]
pub(crate) struct GroupFailure {
    message: String,
    unavailable: bool,
}

impl GroupFailure {
    fn from_error(e: SqliteError) -> Self {
        let message = e.to_string();
        let unavailable = memory_core::Error::from(e).kind() == ErrorKind::Unavailable;
        GroupFailure {
            message,
            unavailable,
        }
    }

    fn to_error(&self) -> SqliteError {
        SqliteError::GroupCommit {
            message: self.message.clone(),
            unavailable: self.unavailable,
        }
    }
}

/// Hands a write's outcome to its caller once the group's commit is known (`Some` when
/// the group failed).
pub(crate) type Deliver = Box<dyn FnOnce(Option<&GroupFailure>) + Send>;

/// What running one queued write left: how to deliver its outcome, and whether the group
/// must be abandoned (its savepoint could not be rolled back).
pub(crate) struct Ran {
    deliver: Deliver,
    abort: Option<GroupFailure>,
}

/// A queued write. Given the group's transaction it runs; given a failure it reports it.
pub(crate) type Job = Box<
    dyn for<'c> FnOnce(std::result::Result<(&'c Connection, Timestamp), &'c GroupFailure>) -> Ran
        + Send,
>;

/// Writes waiting for the drainer.
#[derive(Default)]
pub(crate) struct Queue {
    jobs: VecDeque<Job>,
    draining: bool,
}

/// Runs `f` in a savepoint: its changes stay if it succeeds and vanish if it fails.
/// The outer error means the savepoint itself broke and the transaction is suspect.
fn in_savepoint<T>(
    c: &Connection,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> std::result::Result<Result<T>, SqliteError> {
    c.prepare_cached("SAVEPOINT brain_write")?.execute([])?;
    let out = f(c);
    if out.is_ok() {
        c.prepare_cached("RELEASE brain_write")?.execute([])?;
    } else {
        c.prepare_cached("ROLLBACK TO brain_write")?.execute([])?;
        c.prepare_cached("RELEASE brain_write")?.execute([])?;
    }
    Ok(out)
}

/// Wraps a write closure as a [`Job`] whose result goes to the returned receiver.
pub(crate) fn job<T, F>(f: F) -> (Job, tokio::sync::oneshot::Receiver<Result<T>>)
where
    T: Send + 'static,
    F: FnOnce(&Connection, Timestamp) -> Result<T> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move |ctx| match ctx {
        Err(fail) => {
            // The caller may have gone away; its write never ran, so nothing is lost.
            let _ = tx.send(Err(fail.to_error()));
            Ran {
                deliver: Box::new(|_| {}),
                abort: None,
            }
        }
        Ok((conn, now)) => {
            let (out, abort) = match in_savepoint(conn, |c| f(c, now)) {
                Ok(out) => (out, None),
                Err(e) => {
                    let fail = GroupFailure::from_error(e);
                    (Err(fail.to_error()), Some(fail))
                }
            };
            Ran {
                deliver: Box::new(move |group: Option<&GroupFailure>| {
                    let out = match (out, group) {
                        (Ok(_), Some(fail)) => Err(fail.to_error()),
                        (out, _) => out,
                    };
                    let _ = tx.send(out);
                }),
                abort,
            }
        }
    });
    (job, rx)
}

impl Inner {
    /// Whether no drainer is running (so an inline write would not overtake the queue).
    pub(crate) fn queue_idle(&self) -> bool {
        !lock(&self.queue).draining
    }

    /// Queues a write and makes sure a drainer is running.
    pub(crate) fn enqueue(self: &Arc<Self>, job: Job) {
        let start = {
            let mut q = lock(&self.queue);
            q.jobs.push_back(job);
            !std::mem::replace(&mut q.draining, true)
        };
        if start {
            let inner = self.clone();
            tokio::task::spawn_blocking(move || inner.drain());
        }
    }

    /// Commits queued writes group by group until the queue is empty.
    fn drain(self: &Arc<Self>) {
        let mut conn = lock(&self.writer);
        loop {
            let jobs: Vec<Job> = {
                let mut q = lock(&self.queue);
                if q.jobs.is_empty() {
                    q.draining = false;
                    return;
                }
                let n = q.jobs.len().min(MAX_GROUP);
                q.jobs.drain(..n).collect()
            };
            let n = jobs.len() as u64;
            if run_group(&mut conn, jobs) {
                self.committed(n);
            }
        }
    }

    /// Runs `f` inline if the write can begin without waiting; hands `f` back otherwise.
    pub(crate) fn try_write_inline<T, F>(&self, f: F) -> std::result::Result<Result<T>, F>
    where
        F: FnOnce(&Connection, Timestamp) -> Result<T>,
    {
        let mut conn = match self.writer.try_lock() {
            Ok(c) => c,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Err(f),
        };
        if conn.busy_timeout(Duration::ZERO).is_err() {
            return Err(f);
        }
        let e = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => {
                if let Err(e) = tx.busy_timeout(self.options.busy_timeout) {
                    return Ok(Err(e.into()));
                }
                let out = f(&tx, Timestamp::now());
                return Ok(out.and_then(|v| tx.commit().map(|()| v).map_err(Into::into)));
            }
            Err(e) => e,
        };
        if let Err(r) = conn.busy_timeout(self.options.busy_timeout) {
            return Ok(Err(r.into()));
        }
        match e.sqlite_error_code() {
            // Another process holds the write lock: wait for it off the runtime.
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => Err(f),
            _ => Ok(Err(e.into())),
        }
    }
}

/// Runs one group in one transaction and delivers every outcome; `true` if it committed.
fn run_group(conn: &mut Connection, jobs: Vec<Job>) -> bool {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let fail = GroupFailure::from_error(e.into());
            for job in jobs {
                job(Err(&fail));
            }
            return false;
        }
    };
    let now = Timestamp::now();
    let mut delivers = Vec::with_capacity(jobs.len());
    let mut abort: Option<GroupFailure> = None;
    for job in jobs {
        let ran = match &abort {
            Some(fail) => job(Err(fail)),
            None => job(Ok((&tx, now))),
        };
        if abort.is_none() {
            abort = ran.abort;
        }
        delivers.push(ran.deliver);
    }
    let failure = match abort {
        Some(fail) => {
            drop(tx); // rolls back
            Some(fail)
        }
        None => tx
            .commit()
            .err()
            .map(|e| GroupFailure::from_error(e.into())),
    };
    for deliver in delivers {
        deliver(failure.as_ref());
    }
    failure.is_none()
}
