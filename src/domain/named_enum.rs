//! [`named_enum!`]: an enum stored, sent and logged by snake_case name.

/// Declares an enum whose variants have one text name each: snake_case serde
/// names, `ALL`, a `const fn as_str`, `Display`, and a `FromStr` whose error
/// names the bad text and lists the valid names. The optional leading
/// literal is the noun in that error (`"contact state"`); without it, the
/// enum's name in lower case.
///
/// One macro for every such enum (dispositions, intents, states, events,
/// strategies), so a state column maps to its enum the same way everywhere.
macro_rules! named_enum {
    ($noun:literal, $(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $crate::domain::named_enum::named_enum!(@ {$noun.to_string()} $(#[$meta])* $name { $($(#[$vmeta])* $variant => $text),+ });
    };
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $crate::domain::named_enum::named_enum!(@ {stringify!($name).to_lowercase()} $(#[$meta])* $name { $($(#[$vmeta])* $variant => $text),+ });
    };
    (@ {$noun:expr} $(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The snake_case name used in the store, the API and logs.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl std::str::FromStr for $name {
            type Err = $crate::domain::named_enum::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::domain::named_enum::UnknownName {
                        noun: $noun,
                        got: other.to_string(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }
    };
}
pub(crate) use named_enum;

/// A text that names no variant: says which kind of name, the text, and
/// every valid name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {noun} `{got}` (expected one of: {})", expected.join(", "))]
pub struct UnknownName {
    pub noun: String,
    pub got: String,
    pub expected: &'static [&'static str],
}
