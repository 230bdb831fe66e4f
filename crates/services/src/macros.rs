//! The impls every vocabulary and localized error here repeats. They follow `zhucan-core`'s
//! macros of the same names, which that crate does not export.

/// Inherent `message(lang)` plus the [`zhucan_core::Localized`] impl for an error type that
/// has an English `Display` and a private `fn zh(&self) -> String`.
macro_rules! localized {
    ($ty:ty) => {
        impl $ty {
            /// The rule that was broken, in `lang`.
            pub fn message(&self, lang: ::zhucan_core::Lang) -> String {
                match lang {
                    ::zhucan_core::Lang::Zh => self.zh(),
                    ::zhucan_core::Lang::En => self.to_string(),
                }
            }
        }

        impl ::zhucan_core::Localized for $ty {
            fn message(&self, lang: ::zhucan_core::Lang) -> String {
                <$ty>::message(self, lang)
            }
        }
    };
}

/// A closed vocabulary: a fieldless enum with a stable slug (storage, URLs, serde) and
/// Chinese and English names. `FromStr` accepts the slug (any ASCII case) or either name,
/// and fails with [`crate::UnknownTerm`].
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($field_en:literal, $field_zh:literal) {
            $(
                $(#[$vmeta:meta])*
                $variant:ident => ($slug:literal, $zh:literal, $en:literal),
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [Self; [$($slug),+].len()] = [$(Self::$variant),+];

            /// Stable machine name, used in storage, URLs and serde.
            pub const fn slug(self) -> &'static str {
                match self {
                    $(Self::$variant => $slug,)+
                }
            }

            /// Human-readable name.
            pub const fn name(self, lang: ::zhucan_core::Lang) -> &'static str {
                match (self, lang) {
                    $(
                        (Self::$variant, ::zhucan_core::Lang::Zh) => $zh,
                        (Self::$variant, ::zhucan_core::Lang::En) => $en,
                    )+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.slug())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownTerm;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let s = s.trim();
                Self::ALL
                    .into_iter()
                    .find(|value| {
                        value.slug().eq_ignore_ascii_case(s)
                            || value.name(::zhucan_core::Lang::Zh) == s
                            || value.name(::zhucan_core::Lang::En).eq_ignore_ascii_case(s)
                    })
                    .ok_or_else(|| {
                        $crate::UnknownTerm::new($field_en, $field_zh, s, &[$(($slug, $zh)),+])
                    })
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.slug())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
