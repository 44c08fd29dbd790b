//! A cron input binding as a wasmplug component (world `input-binding-component`),
//! compatible with the metadata of Dapr's `bindings.cron`.
//!
//! Component metadata:
//! - `schedule` (required): `@every <duration>` (Go duration, > 0), a descriptor
//!   (`@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`) or a
//!   cron expression with 5 fields, or 6 with leading seconds; evaluated in UTC. See
//!   [`schedule`] and [`cronexpr`].
//!
//! Every other metadata key is ignored (daprd passes many).
//!
//! Each tick is one event (see [`ticker`]): id `<nonce>-<n>`, data the tick time as RFC 3339
//! UTC text (`text/plain`), metadata `schedule`, `repliesReceived`, the last reply
//! (`lastReplyId`, `lastReplyError`, `lastReplyData`), and Dapr's `timeZone` and
//! `readTimeUTC`. The first tick is the first one after `init`; missed ticks are caught up
//! (at most 10, else only the latest).

mod cronexpr;
mod duration;
mod schedule;
mod ticker;
mod time;

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher, RandomState};

use exports::wasmplug::dapr::input_binding::{Guest, Metadata, PollResult};

use crate::ticker::Ticker;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "input-binding-component",
});

/// The error type of every binding function.
pub(crate) use wasmplug::dapr::types::Error;

/// Component metadata key of the schedule.
const SCHEDULE_METADATA: &str = "schedule";

thread_local! {
    /// The ticker set up by `init`. Guests are single-threaded; `thread_local` just avoids
    /// `unsafe` for the global.
    static TICKER: RefCell<Option<Ticker>> = const { RefCell::new(None) };
}

/// Run `f` with the ticker set up by `init`.
fn with_ticker<T>(f: impl FnOnce(&mut Ticker) -> Result<T, Error>) -> Result<T, Error> {
    TICKER.with(|slot| match slot.borrow_mut().as_mut() {
        Some(ticker) => f(ticker),
        None => Err(Error::Other(
            "cron binding not initialised: init was not called".to_owned(),
        )),
    })
}

/// A random 64-bit nonce as 16 hex digits. std's `RandomState` keys are seeded from the
/// platform's random source (on wasm32-wasip2: `wasi:random`).
fn random_nonce() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(time::now_unix_ms());
    format!("{:016x}", hasher.finish())
}

struct Component;

impl Guest for Component {
    fn init(metadata: Metadata) -> Result<(), Error> {
        // Keys match case-insensitively, like Dapr's metadata decoding; the last one wins.
        let schedule = metadata
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(SCHEDULE_METADATA))
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| {
                Error::InvalidArgument(format!("metadata {SCHEDULE_METADATA} is required"))
            })?;
        let ticker = Ticker::new(schedule, random_nonce(), time::now_unix_ms())?;
        // A re-init (hot reload) starts over, with a new nonce.
        TICKER.with(|slot| *slot.borrow_mut() = Some(ticker));
        Ok(())
    }

    fn poll(max: u32) -> Result<PollResult, Error> {
        with_ticker(|ticker| Ok(ticker.poll(time::now_unix_ms(), max)))
    }

    fn reply(id: String, data: Vec<u8>, error: Option<String>) -> Result<(), Error> {
        with_ticker(|ticker| ticker.reply(&id, &data, error))
    }

    fn ping() -> Result<(), Error> {
        Ok(())
    }
}

export!(Component);
