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

use hookr_guest::codec;
use hookr_guest::{host_call_typed, Error, GuestCell};

mod messages;
use messages::{Alert, AlertKind, Batch, LimitChanges, Limits, Now, NowRequest, Reading, Report};

hookr_guest::plugin! {
    typed "validate" => validate,
    typed "validate_batch" => validate_batch,
    typed "configure" => configure,
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

fn validate(reading: Reading) -> Result<Report, Error> {
    check_all(core::slice::from_ref(&reading))
}

fn validate_batch(batch: Batch) -> Result<Report, Error> {
    check_all(&batch.readings)
}

fn check_all(readings: &[Reading]) -> Result<Report, Error> {
    let now_ms = now_ms()?;
    let limits = LIMITS.get();
    let mut alerts = Vec::new();
    for reading in readings {
        check(reading, &limits, now_ms, &mut alerts);
    }
    for alert in &alerts {
        hookr_guest::log_parts(&["sensor \"", &alert.sensor, "\": ", alert.kind.name()]);
    }
    Ok(Report {
        ok: alerts.is_empty(),
        checked: readings.len() as u64,
        alerts,
    })
}

/// The host's clock. Out of line, like [`check`]: wasmi keeps its translation buffers
/// as large as the largest function it has translated, so a long `check_all` costs RAM
/// for as long as the engine lives.
#[inline(never)]
fn now_ms() -> Result<u64, Error> {
    let Now { now_ms } = host_call_typed("now_ms", &NowRequest {})?;
    Ok(now_ms)
}

#[inline(never)]
fn check(reading: &Reading, limits: &Limits, now_ms: u64, alerts: &mut Vec<Alert>) {
    let mut alert = |kind, value, limit| push_alert(alerts, &reading.sensor, kind, value, limit);
    let ranges = [
        (
            reading.celsius,
            limits.min_celsius,
            limits.max_celsius,
            [
                AlertKind::CelsiusInvalid,
                AlertKind::CelsiusLow,
                AlertKind::CelsiusHigh,
            ],
        ),
        (
            reading.humidity,
            limits.min_humidity,
            limits.max_humidity,
            [
                AlertKind::HumidityInvalid,
                AlertKind::HumidityLow,
                AlertKind::HumidityHigh,
            ],
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
            alert(AlertKind::Stale, age as f64, Some(limits.max_age_ms as f64));
        }
    } else {
        let ahead = reading.timestamp_ms - now_ms;
        if ahead > limits.max_skew_ms {
            alert(
                AlertKind::Future,
                ahead as f64,
                Some(limits.max_skew_ms as f64),
            );
        }
    }
}

/// Out of line: `check` raises alerts in five places, and each inlined copy of the
/// push would repeat the string clone and the vector growth.
#[inline(never)]
fn push_alert(
    alerts: &mut Vec<Alert>,
    sensor: &str,
    kind: AlertKind,
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
