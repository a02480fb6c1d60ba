//! One read of a value, shared by every caller who asked before it began.
//!
//! Every authenticated request on PostgreSQL reads the auth epoch, and
//! each needs a read that began after it arrived: only such a read surely
//! sees a revocation committed before the request came. Sharing a read
//! already under way, as single-flight caches do, would break that. So a
//! caller that asks while a read is under way waits for the next one, and
//! that one answers everybody who asked meanwhile. Under load the database
//! serves one such read at a time however many requests ask, and each
//! request waits for at most the end of the read under way plus its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

type Read<T, E> = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<T, E>> + Send>> + Send + Sync>;

type Answer<T, E> = oneshot::Sender<Result<T, E>>;

pub struct FreshRead<T, E> {
    read: Read<T, E>,
    queue: Arc<Mutex<Queue<T, E>>>,
}

struct Queue<T, E> {
    /// A task is reading, and will read again for `waiting`.
    reading: bool,
    /// Callers that asked since the last read began.
    waiting: Vec<Answer<T, E>>,
}

impl<T, E> FreshRead<T, E>
where
    T: Clone + Send + 'static,
    E: Clone + Send + 'static,
{
    pub fn new<F, Fut>(read: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        FreshRead {
            read: Arc::new(move || Box::pin(read())),
            queue: Arc::new(Mutex::new(Queue {
                reading: false,
                waiting: Vec::new(),
            })),
        }
    }

    /// The value, from a read that began after this call; `None` if that
    /// read was abandoned (it panicked, or the runtime is stopping).
    pub async fn get(&self) -> Option<Result<T, E>> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queue = self.queue.lock().expect("fresh read queue");
            queue.waiting.push(answer);
            !std::mem::replace(&mut queue.reading, true)
        };
        if start {
            // A task of its own: a caller that gives up does not leave the
            // others without their read.
            tokio::spawn(serve(self.read.clone(), self.queue.clone()));
        }
        answered.await.ok()
    }
}

/// Reads for whoever waits, again and again, until nobody asked during
/// the last read.
async fn serve<T: Clone, E: Clone>(read: Read<T, E>, queue: Arc<Mutex<Queue<T, E>>>) {
    let mut serving = Serving {
        queue: &queue,
        answering: Vec::new(),
        done: false,
    };
    loop {
        {
            let mut queue = queue.lock().expect("fresh read queue");
            if queue.waiting.is_empty() {
                queue.reading = false;
                serving.done = true;
                return;
            }
            serving.answering = std::mem::take(&mut queue.waiting);
        }
        let value = read().await;
        for answer in serving.answering.drain(..) {
            let _ = answer.send(value.clone());
        }
    }
}

/// The reads in progress. Should they end early (a read panicked, or the
/// runtime dropped the task), the queue is left to the next caller first,
/// and only then are the callers waiting dropped (they hear nothing), so
/// that none of them, asking again at once, finds a reader that is gone.
struct Serving<'a, T, E> {
    queue: &'a Mutex<Queue<T, E>>,
    answering: Vec<Answer<T, E>>,
    done: bool,
}

impl<T, E> Drop for Serving<'_, T, E> {
    fn drop(&mut self) {
        if !self.done {
            if let Ok(mut queue) = self.queue.lock() {
                queue.reading = false;
                queue.waiting.clear();
            }
        }
        // `answering` is dropped after this.
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::*;

    /// A read that says how many reads had begun when it began.
    fn counting(begun: Arc<AtomicU64>) -> FreshRead<u64, String> {
        FreshRead::new(move || {
            let begun = begun.clone();
            async move {
                let this = begun.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(this)
            }
        })
    }

    /// Callers arriving all the time share reads, and each one's answer
    /// comes from a read that began after it asked.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_answer_is_read_after_its_question_and_reads_are_shared() {
        let begun = Arc::new(AtomicU64::new(0));
        let fresh = Arc::new(counting(begun.clone()));
        let callers: Vec<_> = (0..100)
            .map(|i| {
                let (fresh, begun) = (fresh.clone(), begun.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_micros(300 * (i % 40))).await;
                    let before = begun.load(Ordering::SeqCst);
                    let read = fresh.get().await.unwrap().unwrap();
                    assert!(
                        read > before,
                        "answered by read {read}, begun before the question ({before} had begun)"
                    );
                })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap();
        }
        let reads = begun.load(Ordering::SeqCst);
        assert!(reads < 50, "{reads} reads for 100 callers");
        // Idle again: the next caller starts a read of its own.
        assert_eq!(fresh.get().await, Some(Ok(reads + 1)));
    }

    /// A failed read reaches each caller that waited for it; the next
    /// caller reads afresh. A read that panics answers nobody and leaves
    /// the reads to go on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_reach_their_waiters_and_do_not_stick() {
        let calls = Arc::new(AtomicU64::new(0));
        let fresh = {
            let calls = calls.clone();
            FreshRead::<u64, String>::new(move || {
                let call = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    match call {
                        0 => Err("down".to_owned()),
                        1 => panic!("a read that panics"),
                        _ => Ok(call),
                    }
                }
            })
        };
        assert_eq!(fresh.get().await, Some(Err("down".to_owned())));
        assert_eq!(fresh.get().await, None);
        assert_eq!(fresh.get().await, Some(Ok(2)));
    }
}
