//! A sensor-reading validator: checks temperature and humidity readings against
//! configurable limits and against the host's clock, and reports what is wrong.
//!
//! Operations (all typed, MessagePack maps; see README.md for the layouts):
//! - `validate`: one reading → a report.
//! - `validate_batch`: `{"readings": [..]}` → one report for all of them.
//! - `configure`: changes some limits, returns all of them.
//!
//! Every validation asks the host for the time once, through the typed host function
//! `now_ms`, and logs each alert through `__log`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use hookr_guest::codec::{Decode, DecodeError, Decoder, Encode, EncodeError, Encoder};
use hookr_guest::{host_call_typed, Error, GuestCell};

hookr_guest::plugin! {
    typed "validate" => validate,
    typed "validate_batch" => validate_batch,
    typed "configure" => configure,
}

/// What a reading must satisfy.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Limits {
    min_celsius: f64,
    max_celsius: f64,
    min_humidity: f64,
    max_humidity: f64,
    /// How old a reading may be, by the host's clock.
    max_age_ms: u64,
    /// How far ahead of the host's clock a reading may be stamped.
    max_skew_ms: u64,
}

/// The operating range of common digital temperature/humidity sensors (BME280 class).
const DEFAULT_LIMITS: Limits = Limits {
    min_celsius: -40.0,
    max_celsius: 85.0,
    min_humidity: 0.0,
    max_humidity: 100.0,
    max_age_ms: 60_000,
    max_skew_ms: 5_000,
};

static LIMITS: GuestCell<Limits> = GuestCell::new(DEFAULT_LIMITS);

/// One reading from one sensor.
struct Reading {
    sensor: String,
    celsius: f64,
    humidity: f64,
    timestamp_ms: u64,
}

/// `{"readings": [reading, ..]}`.
struct Batch {
    readings: Vec<Reading>,
}

/// What is wrong with one reading.
struct Alert {
    sensor: String,
    kind: &'static str,
    value: f64,
    /// The limit that was crossed; `None` for a value that is not a number at all.
    limit: Option<f64>,
}

/// The answer of `validate` and `validate_batch`.
struct Report {
    checked: usize,
    alerts: Vec<Alert>,
}

/// `configure`'s request: the limits to change; the others stay as they are.
#[derive(Default)]
struct LimitChanges {
    min_celsius: Option<f64>,
    max_celsius: Option<f64>,
    min_humidity: Option<f64>,
    max_humidity: Option<f64>,
    max_age_ms: Option<u64>,
    max_skew_ms: Option<u64>,
}

/// The host function `now_ms` takes an empty map and answers `{"now_ms": u64}`,
/// milliseconds since the Unix epoch.
struct NowRequest;
struct Now(u64);

fn validate(reading: Reading) -> Result<Report, Error> {
    check_all(core::slice::from_ref(&reading))
}

fn validate_batch(batch: Batch) -> Result<Report, Error> {
    check_all(&batch.readings)
}

fn check_all(readings: &[Reading]) -> Result<Report, Error> {
    let Now(now_ms) = host_call_typed("now_ms", &NowRequest)?;
    let limits = LIMITS.get();
    let mut alerts = Vec::new();
    for reading in readings {
        check(reading, &limits, now_ms, &mut alerts);
    }
    for alert in &alerts {
        hookr_guest::log_parts(&["sensor \"", &alert.sensor, "\": ", alert.kind]);
    }
    Ok(Report {
        checked: readings.len(),
        alerts,
    })
}

fn check(reading: &Reading, limits: &Limits, now_ms: u64, alerts: &mut Vec<Alert>) {
    let mut alert = |kind, value, limit| push_alert(alerts, &reading.sensor, kind, value, limit);
    let ranges = [
        (
            reading.celsius,
            limits.min_celsius,
            limits.max_celsius,
            ["celsius_invalid", "celsius_low", "celsius_high"],
        ),
        (
            reading.humidity,
            limits.min_humidity,
            limits.max_humidity,
            ["humidity_invalid", "humidity_low", "humidity_high"],
        ),
    ];
    for (value, min, max, [invalid, low, high]) in ranges {
        if !value.is_finite() {
            alert(invalid, value, None);
        } else if value < min {
            alert(low, value, Some(min));
        } else if value > max {
            alert(high, value, Some(max));
        }
    }
    if let Some(age) = now_ms.checked_sub(reading.timestamp_ms) {
        if age > limits.max_age_ms {
            alert("stale", age as f64, Some(limits.max_age_ms as f64));
        }
    } else {
        let ahead = reading.timestamp_ms - now_ms;
        if ahead > limits.max_skew_ms {
            alert("future", ahead as f64, Some(limits.max_skew_ms as f64));
        }
    }
}

/// Out of line: `check` raises alerts in five places, and each inlined copy of the
/// push would repeat the string clone and the vector growth.
#[inline(never)]
fn push_alert(
    alerts: &mut Vec<Alert>,
    sensor: &str,
    kind: &'static str,
    value: f64,
    limit: Option<f64>,
) {
    alerts.push(Alert {
        sensor: String::from(sensor),
        kind,
        value,
        limit,
    });
}

fn configure(changes: LimitChanges) -> Result<Limits, Error> {
    let old = LIMITS.get();
    let new = Limits {
        min_celsius: changes.min_celsius.unwrap_or(old.min_celsius),
        max_celsius: changes.max_celsius.unwrap_or(old.max_celsius),
        min_humidity: changes.min_humidity.unwrap_or(old.min_humidity),
        max_humidity: changes.max_humidity.unwrap_or(old.max_humidity),
        max_age_ms: changes.max_age_ms.unwrap_or(old.max_age_ms),
        max_skew_ms: changes.max_skew_ms.unwrap_or(old.max_skew_ms),
    };
    let finite = [
        new.min_celsius,
        new.max_celsius,
        new.min_humidity,
        new.max_humidity,
    ]
    .iter()
    .all(|v| v.is_finite());
    if !finite {
        return Err(Error::new("limits must be finite numbers"));
    }
    if new.min_celsius >= new.max_celsius {
        return Err(Error::new("min_celsius must be below max_celsius"));
    }
    if new.min_humidity < 0.0 || new.max_humidity > 100.0 || new.min_humidity >= new.max_humidity {
        return Err(Error::new(
            "humidity limits must satisfy 0 <= min_humidity < max_humidity <= 100",
        ));
    }
    if new != old {
        LIMITS.set(new);
        hookr_guest::log("sensor limits changed");
    }
    Ok(new)
}

impl Decode for Reading {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        const FIELDS: [&str; 4] = ["sensor", "celsius", "humidity", "timestamp_ms"];
        let (mut sensor, mut celsius, mut humidity, mut timestamp_ms) = (None, None, None, None);
        d.fields(&FIELDS, |d, field| {
            match field {
                Some(0) => sensor = Some(d.string()?),
                Some(1) => celsius = Some(d.f64()?),
                Some(2) => humidity = Some(d.f64()?),
                Some(3) => timestamp_ms = Some(d.uint()?),
                _ => d.skip()?,
            }
            Ok(())
        })?;
        Ok(Reading {
            sensor: sensor.ok_or(DecodeError::MissingField(FIELDS[0]))?,
            celsius: celsius.ok_or(DecodeError::MissingField(FIELDS[1]))?,
            humidity: humidity.ok_or(DecodeError::MissingField(FIELDS[2]))?,
            timestamp_ms: timestamp_ms.ok_or(DecodeError::MissingField(FIELDS[3]))?,
        })
    }
}

impl Decode for Batch {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let mut readings = None;
        d.fields(&["readings"], |d, field| {
            match field {
                Some(0) => {
                    let len = d.array_len()?;
                    // Grows as readings decode: `len` is the sender's claim, not a promise.
                    let mut list = Vec::new();
                    for _ in 0..len {
                        list.push(Reading::decode(d)?);
                    }
                    readings = Some(list);
                }
                _ => d.skip()?,
            }
            Ok(())
        })?;
        Ok(Batch {
            readings: readings.ok_or(DecodeError::MissingField("readings"))?,
        })
    }
}

impl Decode for LimitChanges {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let mut c = LimitChanges::default();
        d.fields(&LIMIT_FIELDS, |d, field| {
            match field {
                Some(0) => c.min_celsius = d.value()?,
                Some(1) => c.max_celsius = d.value()?,
                Some(2) => c.min_humidity = d.value()?,
                Some(3) => c.max_humidity = d.value()?,
                Some(4) => c.max_age_ms = d.value()?,
                Some(5) => c.max_skew_ms = d.value()?,
                _ => d.skip()?,
            }
            Ok(())
        })?;
        Ok(c)
    }
}

const LIMIT_FIELDS: [&str; 6] = [
    "min_celsius",
    "max_celsius",
    "min_humidity",
    "max_humidity",
    "max_age_ms",
    "max_skew_ms",
];

impl Encode for Limits {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.map_len(LIMIT_FIELDS.len())?;
        e.str(LIMIT_FIELDS[0])?;
        e.f64(self.min_celsius)?;
        e.str(LIMIT_FIELDS[1])?;
        e.f64(self.max_celsius)?;
        e.str(LIMIT_FIELDS[2])?;
        e.f64(self.min_humidity)?;
        e.str(LIMIT_FIELDS[3])?;
        e.f64(self.max_humidity)?;
        e.str(LIMIT_FIELDS[4])?;
        e.uint(self.max_age_ms)?;
        e.str(LIMIT_FIELDS[5])?;
        e.uint(self.max_skew_ms)
    }
}

impl Encode for Alert {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.map_len(4)?;
        e.str("sensor")?;
        e.str(&self.sensor)?;
        e.str("kind")?;
        e.str(self.kind)?;
        e.str("value")?;
        e.f64(self.value)?;
        e.str("limit")?;
        e.value(&self.limit)
    }
}

impl Encode for Report {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.map_len(3)?;
        e.str("ok")?;
        e.bool(self.alerts.is_empty())?;
        e.str("checked")?;
        e.uint(self.checked as u64)?;
        e.str("alerts")?;
        e.array_len(self.alerts.len())?;
        for alert in &self.alerts {
            alert.encode(e)?;
        }
        Ok(())
    }
}

impl Encode for NowRequest {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.map_len(0)
    }
}

impl Decode for Now {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let mut now = None;
        d.fields(&["now_ms"], |d, field| {
            match field {
                Some(0) => now = Some(d.uint()?),
                _ => d.skip()?,
            }
            Ok(())
        })?;
        now.map(Now).ok_or(DecodeError::MissingField("now_ms"))
    }
}
