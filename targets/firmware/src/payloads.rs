//! The sensor plugin's typed payloads, MessagePack maps keyed by field name, with
//! hand-written codec impls (no serde on the device). `simple`'s messages come from the
//! plugin's own source (`messages.rs`).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use hookr::codec::{Decode, DecodeError, Decoder, Encode, EncodeError, Encoder};

/// The request of the host function `now_ms`: `{}` (any fields are ignored).
pub struct NowRequest;

impl Decode for NowRequest {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        d.fields(&[], |d, _| d.skip())?;
        Ok(NowRequest)
    }
}

/// The response of `now_ms`: `{"now_ms": u64}`.
pub struct Now {
    pub now_ms: u64,
}

impl Encode for Now {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.map_len(1)?;
        e.str("now_ms")?;
        e.uint(self.now_ms)
    }
}

/// `sensor`'s `validate` request.
pub struct Reading {
    pub sensor: &'static str,
    pub celsius: f64,
    pub humidity: f64,
    pub timestamp_ms: u64,
}

impl Encode for Reading {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.map_len(4)?;
        e.str("sensor")?;
        e.str(self.sensor)?;
        e.str("celsius")?;
        e.f64(self.celsius)?;
        e.str("humidity")?;
        e.f64(self.humidity)?;
        e.str("timestamp_ms")?;
        e.uint(self.timestamp_ms)
    }
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{sensor: {:?}, celsius: {}, humidity: {}, timestamp_ms: {}}}",
            self.sensor, self.celsius, self.humidity, self.timestamp_ms
        )
    }
}

/// `sensor`'s `validate` response.
pub struct Report {
    pub ok: bool,
    pub checked: u64,
    pub alerts: Vec<Alert>,
}

impl Decode for Report {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let (mut ok, mut checked, mut alerts) = (None, None, None);
        d.fields(&["ok", "checked", "alerts"], |d, field| {
            match field {
                Some(0) => ok = Some(d.bool()?),
                Some(1) => checked = Some(d.uint()?),
                Some(2) => {
                    let n = d.array_len()?;
                    let mut list = Vec::with_capacity(n.min(16));
                    for _ in 0..n {
                        list.push(d.value::<Alert>()?);
                    }
                    alerts = Some(list);
                }
                _ => d.skip()?,
            }
            Ok(())
        })?;
        Ok(Report {
            ok: ok.ok_or(DecodeError::MissingField("ok"))?,
            checked: checked.ok_or(DecodeError::MissingField("checked"))?,
            alerts: alerts.ok_or(DecodeError::MissingField("alerts"))?,
        })
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

/// One problem with a reading.
pub struct Alert {
    pub sensor: String,
    pub kind: String,
    pub value: f64,
    pub limit: Option<f64>,
}

impl Decode for Alert {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let (mut sensor, mut kind, mut value, mut limit) = (None, None, None, None);
        d.fields(&["sensor", "kind", "value", "limit"], |d, field| {
            match field {
                Some(0) => sensor = Some(d.string()?),
                Some(1) => kind = Some(d.string()?),
                Some(2) => value = Some(d.f64()?),
                Some(3) => limit = Some(d.value::<Option<f64>>()?),
                _ => d.skip()?,
            }
            Ok(())
        })?;
        Ok(Alert {
            sensor: sensor.ok_or(DecodeError::MissingField("sensor"))?,
            kind: kind.ok_or(DecodeError::MissingField("kind"))?,
            value: value.ok_or(DecodeError::MissingField("value"))?,
            limit: limit.ok_or(DecodeError::MissingField("limit"))?,
        })
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{sensor: {:?}, kind: {:?}, value: {}, limit: ", self.sensor, self.kind, self.value)?;
        match self.limit {
            Some(l) => write!(f, "{l}}}"),
            None => f.write_str("nil}"),
        }
    }
}
