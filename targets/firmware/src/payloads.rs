//! How the firmware logs the sensor plugin's messages through defmt. The types
//! themselves, and their derived codec impls, come from the plugin's own source
//! (`sensor_messages`); the floats are formatted by the decoder on the host.

use crate::sensor_messages::{Alert, AlertKind, Reading, Report};

impl defmt::Format for Reading {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "{{sensor: {=str:?}, celsius: {=f64}, humidity: {=f64}, timestamp_ms: {=u64}}}",
            self.sensor.as_str(),
            self.celsius,
            self.humidity,
            self.timestamp_ms
        )
    }
}

impl defmt::Format for Report {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "{{ok: {=bool}, checked: {=u64}, alerts: {=[?]}}}",
            self.ok,
            self.checked,
            self.alerts.as_slice()
        )
    }
}

impl defmt::Format for Alert {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "{{sensor: {=str:?}, kind: {}, value: {=f64}, limit: {}}}",
            self.sensor.as_str(),
            self.kind,
            self.value,
            self.limit
        )
    }
}

impl defmt::Format for AlertKind {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str:?}", self.name())
    }
}
