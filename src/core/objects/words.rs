//! `words!`: an enum whose values are the words `status` prints. Each value's word is written
//! once, beside it, and is what the value prints (`Display`), serialises to (a JSON/YAML string,
//! exactly as the `&'static str` it replaces did) and `as_str` returns; `ALL` lists the values in
//! order. A comparison with a misspelt value does not compile.

macro_rules! words {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$value_meta:meta])* $value:ident = $word:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$value_meta])* $value, )*
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: &'static [$name] = &[$($name::$value),*];

            /// The word `status` prints for the value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$value => $word, )*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

pub(crate) use words;
