//! `#[codec(rename_all = "...")]` names fields and variants as serde's attribute of the
//! same name does: a type derived both ways writes the same bytes through the derived
//! `Encode` as through rmp-serde (`to_vec_named`, what a `Serde<T>` peer writes), and
//! each reads what the other wrote. Fields (snake_case in Rust) and variants
//! (PascalCase) follow different rules, as they do in serde.
#![cfg(feature = "serde")]

use hookr::codec::{self, Decode, Encode};
use serde::{Deserialize, Serialize};

/// A struct, an enum and a struct variant under one rule, derived both ways.
macro_rules! under_rule {
    ($module:ident, $rule:literal) => {
        mod $module {
            use super::*;

            #[derive(Debug, Clone, PartialEq, Encode, Decode, Serialize, Deserialize)]
            #[codec(rename_all = $rule)]
            #[serde(rename_all = $rule)]
            pub struct Fields {
                pub my_field: u8,
                pub x: u8,
                pub utf8_bytes_2: u8,
                pub r#type: u8,
                #[codec(rename = "kept")]
                #[serde(rename = "kept")]
                pub renamed_field: u8,
            }

            #[derive(Debug, Clone, PartialEq, Encode, Decode, Serialize, Deserialize)]
            #[codec(rename_all = $rule)]
            #[serde(rename_all = $rule)]
            pub enum Variants {
                HTTPServer,
                IOError,
                ABCd,
                MyVariant,
                A,
                V2Data(u8),
                #[codec(rename = "Kept")]
                #[serde(rename = "Kept")]
                Renamed,
                #[codec(rename_all = $rule)]
                #[serde(rename_all = $rule)]
                WithFields {
                    inner_field: u8,
                    second_one: u8,
                },
            }

            pub fn fields() -> Fields {
                Fields { my_field: 1, x: 2, utf8_bytes_2: 3, r#type: 4, renamed_field: 5 }
            }

            pub fn variants() -> [Variants; 8] {
                [
                    Variants::HTTPServer,
                    Variants::IOError,
                    Variants::ABCd,
                    Variants::MyVariant,
                    Variants::A,
                    Variants::V2Data(6),
                    Variants::Renamed,
                    Variants::WithFields { inner_field: 7, second_one: 8 },
                ]
            }
        }
    };
}

under_rule!(lower, "lowercase");
under_rule!(upper, "UPPERCASE");
under_rule!(pascal, "PascalCase");
under_rule!(camel, "camelCase");
under_rule!(snake, "snake_case");
under_rule!(screaming_snake, "SCREAMING_SNAKE_CASE");
under_rule!(kebab, "kebab-case");
under_rule!(screaming_kebab, "SCREAMING-KEBAB-CASE");

/// What the derived `Encode` writes is what rmp-serde writes, and both decoders read it.
fn same_as_serde<T>(value: &T) -> Vec<u8>
where
    T: Encode + Decode + Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
{
    let derived = codec::to_vec(value).unwrap();
    let serde = rmp_serde::to_vec_named(value).unwrap();
    assert_eq!(derived, serde, "{value:?}");
    assert_eq!(&codec::from_slice::<T>(&serde).unwrap(), value);
    assert_eq!(&rmp_serde::from_slice::<T>(&derived).unwrap(), value);
    derived
}

/// The keys of a map of fixstr keys and positive-fixint values, as `same_as_serde`'s
/// `Fields` and `WithFields` write them.
fn keys(map: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = &map[1..];
    for _ in 0..map[0] & 0x0f {
        let n = (rest[0] & 0x1f) as usize;
        out.push(String::from_utf8(rest[1..1 + n].to_vec()).unwrap());
        rest = &rest[2 + n..];
    }
    out
}

/// The name of each variant: the string of a unit variant, the key of the others.
fn variant_names(values: &[Vec<u8>]) -> Vec<String> {
    values
        .iter()
        .map(|bytes| {
            let s = if bytes[0] & 0xf0 == 0x80 { &bytes[1..] } else { &bytes[..] };
            let n = (s[0] & 0x1f) as usize;
            String::from_utf8(s[1..1 + n].to_vec()).unwrap()
        })
        .collect()
}

macro_rules! check_rule {
    (
        $module:ident,
        fields: [$($field:literal),*],
        variants: [$($variant:literal),*],
        variant_fields: [$($vf:literal),*]
    ) => {{
        let bytes = same_as_serde(&$module::fields());
        assert_eq!(keys(&bytes), [$($field),*], stringify!($module));
        let values: Vec<Vec<u8>> = $module::variants().iter().map(same_as_serde).collect();
        assert_eq!(variant_names(&values), [$($variant),*], stringify!($module));
        // `{"WithFields": {..}}`: the fields of the struct variant, after its name.
        let with_fields = values.last().unwrap();
        let name_len = (with_fields[1] & 0x1f) as usize;
        assert_eq!(keys(&with_fields[2 + name_len..]), [$($vf),*], stringify!($module));
    }};
}

#[test]
fn every_rule_names_fields_and_variants_as_serde_does() {
    check_rule!(lower,
        fields: ["my_field", "x", "utf8_bytes_2", "type", "kept"],
        variants: ["httpserver", "ioerror", "abcd", "myvariant", "a", "v2data", "Kept", "withfields"],
        variant_fields: ["inner_field", "second_one"]);
    check_rule!(upper,
        fields: ["MY_FIELD", "X", "UTF8_BYTES_2", "TYPE", "kept"],
        variants: ["HTTPSERVER", "IOERROR", "ABCD", "MYVARIANT", "A", "V2DATA", "Kept", "WITHFIELDS"],
        variant_fields: ["INNER_FIELD", "SECOND_ONE"]);
    check_rule!(pascal,
        fields: ["MyField", "X", "Utf8Bytes2", "Type", "kept"],
        variants: ["HTTPServer", "IOError", "ABCd", "MyVariant", "A", "V2Data", "Kept", "WithFields"],
        variant_fields: ["InnerField", "SecondOne"]);
    check_rule!(camel,
        fields: ["myField", "x", "utf8Bytes2", "type", "kept"],
        variants: ["hTTPServer", "iOError", "aBCd", "myVariant", "a", "v2Data", "Kept", "withFields"],
        variant_fields: ["innerField", "secondOne"]);
    check_rule!(snake,
        fields: ["my_field", "x", "utf8_bytes_2", "type", "kept"],
        variants: ["h_t_t_p_server", "i_o_error", "a_b_cd", "my_variant", "a", "v2_data", "Kept", "with_fields"],
        variant_fields: ["inner_field", "second_one"]);
    check_rule!(screaming_snake,
        fields: ["MY_FIELD", "X", "UTF8_BYTES_2", "TYPE", "kept"],
        variants: ["H_T_T_P_SERVER", "I_O_ERROR", "A_B_CD", "MY_VARIANT", "A", "V2_DATA", "Kept", "WITH_FIELDS"],
        variant_fields: ["INNER_FIELD", "SECOND_ONE"]);
    check_rule!(kebab,
        fields: ["my-field", "x", "utf8-bytes-2", "type", "kept"],
        variants: ["h-t-t-p-server", "i-o-error", "a-b-cd", "my-variant", "a", "v2-data", "Kept", "with-fields"],
        variant_fields: ["inner-field", "second-one"]);
    check_rule!(screaming_kebab,
        fields: ["MY-FIELD", "X", "UTF8-BYTES-2", "TYPE", "kept"],
        variants: ["H-T-T-P-SERVER", "I-O-ERROR", "A-B-CD", "MY-VARIANT", "A", "V2-DATA", "Kept", "WITH-FIELDS"],
        variant_fields: ["INNER-FIELD", "SECOND-ONE"]);
}

/// A variant's `rename_all` names its fields only; the enum's names its variants only.
#[derive(Debug, Clone, PartialEq, Encode, Decode, Serialize, Deserialize)]
#[codec(rename_all = "kebab-case")]
#[serde(rename_all = "kebab-case")]
enum Scoped {
    PlainFields {
        some_field: u8,
    },
    #[codec(rename_all = "SCREAMING_SNAKE_CASE")]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    LoudFields {
        some_field: u8,
    },
}

#[test]
fn each_rename_all_names_only_its_own_level() {
    let bytes = same_as_serde(&Scoped::PlainFields { some_field: 1 });
    assert_eq!(bytes, b"\x81\xacplain-fields\x81\xaasome_field\x01");
    let bytes = same_as_serde(&Scoped::LoudFields { some_field: 1 });
    assert_eq!(bytes, b"\x81\xabloud-fields\x81\xaaSOME_FIELD\x01");
}
