//! How the firmware prints the sensor plugin's messages. The types themselves, and
//! their derived codec impls, come from the plugin's own source (`sensor_messages`).

use core::fmt;

use crate::sensor_messages::{Alert, Reading, Report};

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{sensor: {:?}, celsius: {}, humidity: {}, timestamp_ms: {}}}",
            self.sensor, self.celsius, self.humidity, self.timestamp_ms
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{ok: {}, checked: {}, alerts: [", self.ok, self.checked)?;
        for (i, a) in self.alerts.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str("]}")
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{sensor: {:?}, kind: {:?}, value: {}, limit: ", self.sensor, self.kind.name(), self.value)?;
        match self.limit {
            Some(l) => write!(f, "{l}}}"),
            None => f.write_str("nil}"),
        }
    }
}
