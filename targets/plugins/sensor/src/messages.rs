//! The typed messages of the `sensor` plugin, shared by the plugin and its hosts.
//!
//! One definition serves both sides: the plugin includes this file as a module, and a
//! host (the firmware) includes it with
//! `#[path = ".../targets/plugins/sensor/src/messages.rs"] mod sensor_messages;`. The
//! includer brings the codec into scope as `codec` (`use hookr::codec;` on a host,
//! `use hookr_guest::codec;` in the plugin), whose derives write the impls for that
//! side, and provides `alloc`. README.md describes every field.

use alloc::string::String;
use alloc::vec::Vec;

use super::codec::{Decode, Encode};

/// One reading from one sensor: the request of `validate`.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Reading {
    /// The sensor's name.
    pub sensor: String,
    /// Temperature.
    pub celsius: f64,
    /// Relative humidity, percent.
    pub humidity: f64,
    /// When it was measured, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

/// `{"readings": [reading, ..]}`: the request of `validate_batch`.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Batch {
    /// The readings, checked in order.
    pub readings: Vec<Reading>,
}

/// The answer of `validate` and `validate_batch`.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Report {
    /// Whether there are no alerts.
    pub ok: bool,
    /// How many readings were checked.
    pub checked: u64,
    /// What is wrong, in reading order.
    pub alerts: Vec<Alert>,
}

/// What is wrong with one reading.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Alert {
    /// The reading's sensor.
    pub sensor: String,
    /// Which check failed.
    pub kind: AlertKind,
    /// The offending value (for `Stale` and `Future`: milliseconds).
    pub value: f64,
    /// The limit that was crossed; `None` for a value that is not a number at all.
    pub limit: Option<f64>,
}

/// Which check a reading failed; on the wire, its name in snake_case (`"celsius_high"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
#[codec(rename_all = "snake_case")]
pub enum AlertKind {
    /// The temperature is NaN or infinite.
    CelsiusInvalid,
    /// Below `min_celsius`.
    CelsiusLow,
    /// Above `max_celsius`.
    CelsiusHigh,
    /// The humidity is NaN or infinite.
    HumidityInvalid,
    /// Below `min_humidity`.
    HumidityLow,
    /// Above `max_humidity`.
    HumidityHigh,
    /// Older than `max_age_ms` by the host's clock.
    Stale,
    /// Stamped more than `max_skew_ms` ahead of the host's clock.
    Future,
}

impl AlertKind {
    /// The name on the wire, for log lines.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::CelsiusInvalid => "celsius_invalid",
            AlertKind::CelsiusLow => "celsius_low",
            AlertKind::CelsiusHigh => "celsius_high",
            AlertKind::HumidityInvalid => "humidity_invalid",
            AlertKind::HumidityLow => "humidity_low",
            AlertKind::HumidityHigh => "humidity_high",
            AlertKind::Stale => "stale",
            AlertKind::Future => "future",
        }
    }
}

/// What a reading must satisfy: the answer of `configure`.
#[derive(Debug, Clone, Copy, PartialEq, Encode, Decode)]
pub struct Limits {
    /// Lowest temperature.
    pub min_celsius: f64,
    /// Highest temperature.
    pub max_celsius: f64,
    /// Lowest humidity.
    pub min_humidity: f64,
    /// Highest humidity.
    pub max_humidity: f64,
    /// How old a reading may be, by the host's clock.
    pub max_age_ms: u64,
    /// How far ahead of the host's clock a reading may be stamped.
    pub max_skew_ms: u64,
}

/// The request of `configure`: the limits to change; the others stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Encode, Decode)]
pub struct LimitChanges {
    /// A new lowest temperature.
    pub min_celsius: Option<f64>,
    /// A new highest temperature.
    pub max_celsius: Option<f64>,
    /// A new lowest humidity.
    pub min_humidity: Option<f64>,
    /// A new highest humidity.
    pub max_humidity: Option<f64>,
    /// A new maximum age.
    pub max_age_ms: Option<u64>,
    /// A new maximum skew.
    pub max_skew_ms: Option<u64>,
}

/// The request of the host function `now_ms`: `{}`.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct NowRequest {}

/// The answer of `now_ms`: the host's time, milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Now {
    /// Milliseconds since the Unix epoch.
    pub now_ms: u64,
}
