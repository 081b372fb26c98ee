//! A minimal MaxMind DB writer (https://maxmind.github.io/MaxMind-DB/), so the GeoIP tests
//! read a real `.mmdb` file without one in the repository: an IPv6 binary search tree of
//! 24-bit records (IPv4 networks under `::/96`), a data section of maps, arrays, strings
//! and unsigned integers (no pointers: each record is written once), and the metadata.

use std::net::IpAddr;

/// A value of the data section.
pub enum Value {
    Str(String),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(String, Value)>),
    Array(Vec<Value>),
}

/// A map from `(key, value)` pairs.
pub fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

pub fn text(s: &str) -> Value {
    Value::Str(s.to_owned())
}

/// A GeoIP2 `names` map from `(language, name)` pairs.
pub fn names(pairs: &[(&str, &str)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), text(v)))
            .collect(),
    )
}

#[derive(Clone, Copy)]
enum Record {
    Empty,
    Node(usize),
    /// An offset into the data section.
    Data(usize),
}

/// A database being written: networks inserted with their records, then [`Writer::finish`].
pub struct Writer {
    nodes: Vec<[Record; 2]>,
    data: Vec<u8>,
    database_type: String,
}

impl Writer {
    pub fn new(database_type: &str) -> Self {
        Self {
            nodes: vec![[Record::Empty; 2]],
            data: Vec::new(),
            database_type: database_type.to_owned(),
        }
    }

    /// Maps `network` (e.g. "200.27.0.0/16", "2800:150::/32"; networks must not overlap) to
    /// `value`.
    pub fn insert(&mut self, network: &str, value: &Value) {
        let (address, length) = network.split_once('/').expect("a CIDR network");
        let (bits, length) = match address.parse::<IpAddr>().expect("an address") {
            IpAddr::V4(v4) => (
                u128::from(u32::from(v4)),
                96 + length.parse::<usize>().expect("a prefix length"),
            ),
            IpAddr::V6(v6) => (u128::from(v6), length.parse().expect("a prefix length")),
        };
        assert!((1..=128).contains(&length), "{network}");
        let offset = self.data.len();
        encode(value, &mut self.data);
        let mut node = 0;
        for depth in 0..length {
            let side = usize::from((bits >> (127 - depth)) & 1 == 1);
            if depth == length - 1 {
                assert!(
                    matches!(self.nodes[node][side], Record::Empty),
                    "{network} overlaps another network"
                );
                self.nodes[node][side] = Record::Data(offset);
                break;
            }
            node = match self.nodes[node][side] {
                Record::Node(next) => next,
                Record::Empty => {
                    self.nodes.push([Record::Empty; 2]);
                    let next = self.nodes.len() - 1;
                    self.nodes[node][side] = Record::Node(next);
                    next
                }
                Record::Data(_) => panic!("{network} lies inside another network"),
            };
        }
    }

    /// The file's bytes: search tree, 16 zero bytes, data section, metadata.
    pub fn finish(self) -> Vec<u8> {
        let node_count = self.nodes.len();
        let mut out = Vec::new();
        for node in &self.nodes {
            for record in node {
                let value = match *record {
                    Record::Empty => node_count,
                    Record::Node(next) => next,
                    Record::Data(offset) => node_count + 16 + offset,
                };
                assert!(value < 1 << 24, "too big for 24-bit records");
                out.extend_from_slice(&u32::try_from(value).expect("24 bits").to_be_bytes()[1..]);
            }
        }
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b"\xab\xcd\xefMaxMind.com");
        let metadata = map([
            (
                "node_count",
                Value::U32(u32::try_from(node_count).expect("nodes")),
            ),
            ("record_size", Value::U16(24)),
            ("ip_version", Value::U16(6)),
            ("database_type", text(&self.database_type)),
            ("languages", Value::Array(vec![text("en"), text("es")])),
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(1_764_720_000)),
            ("description", names(&[("en", "CUS test database")])),
        ]);
        encode(&metadata, &mut out);
        out
    }
}

/// A control byte (type and size), then the payload, as the spec's "Output Data Section"
/// lays them out.
fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Str(s) => {
            control(2, s.len(), out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::U16(n) => uint(5, u64::from(*n), out),
        Value::U32(n) => uint(6, u64::from(*n), out),
        Value::U64(n) => uint(9, *n, out),
        Value::Map(pairs) => {
            control(7, pairs.len(), out);
            for (key, value) in pairs {
                encode(&Value::Str(key.clone()), out);
                encode(value, out);
            }
        }
        Value::Array(items) => {
            control(11, items.len(), out);
            for item in items {
                encode(item, out);
            }
        }
    }
}

/// An unsigned integer: big-endian, leading zero bytes left out (the size says how many).
fn uint(kind: u8, n: u64, out: &mut Vec<u8>) {
    let bytes = n.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    control(kind, bytes.len() - first, out);
    out.extend_from_slice(&bytes[first..]);
}

/// Type in the top 3 bits (types above 7 are "extended": 0 there, then a byte of type − 7),
/// size in the low 5 bits, with 29, 30 and 31 saying the size follows in 1, 2 or 3 bytes.
fn control(kind: u8, size: usize, out: &mut Vec<u8>) {
    let (top, extended) = if kind > 7 {
        (0, Some(kind - 7))
    } else {
        (kind, None)
    };
    let (low, rest): (u8, Vec<u8>) = match size {
        0..29 => (u8::try_from(size).expect("small"), vec![]),
        29..285 => (29, vec![u8::try_from(size - 29).expect("one byte")]),
        285..65_821 => (
            30,
            u16::try_from(size - 285)
                .expect("two bytes")
                .to_be_bytes()
                .to_vec(),
        ),
        _ => (
            31,
            u32::try_from(size - 65_821)
                .expect("three bytes")
                .to_be_bytes()[1..]
                .to_vec(),
        ),
    };
    out.push(top << 5 | low);
    out.extend(extended);
    out.extend(rest);
}
