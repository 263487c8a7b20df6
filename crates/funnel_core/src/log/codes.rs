//! Event codes as narrow as the log's names allow: a byte per row for up to 256 names, which is
//! every tracking plan we have seen. Runs read a quarter of the bytes they would with `u32`.

/// An unsigned integer type event codes are stored in.
pub trait Code: Copy + Default + Send + Sync + Eq + std::fmt::Debug + 'static {
    /// The widest code this type holds.
    const MAX: u32;
    fn index(self) -> usize;
    /// `code` must be at most `MAX`.
    fn from_u32(code: u32) -> Self;
    fn wrap(codes: Vec<Self>) -> EventCodes;
}

macro_rules! code_type {
    ($t:ty, $variant:ident) => {
        impl Code for $t {
            const MAX: u32 = <$t>::MAX as u32;
            #[inline(always)]
            fn index(self) -> usize {
                self as usize
            }
            #[inline(always)]
            fn from_u32(code: u32) -> Self {
                code as $t
            }
            fn wrap(codes: Vec<Self>) -> EventCodes {
                EventCodes::$variant(codes)
            }
        }
    };
}
code_type!(u8, U8);
code_type!(u16, U16);
code_type!(u32, U32);

/// The event code of every encoded row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventCodes {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Default for EventCodes {
    fn default() -> Self {
        EventCodes::U8(Vec::new())
    }
}

/// Run `$body` with `$v` bound to the codes as a slice of their own type, so hot loops are
/// compiled once per width instead of matching per row.
#[macro_export]
macro_rules! with_codes {
    ($codes:expr, $v:ident => $body:expr) => {
        match $codes {
            $crate::log::EventCodes::U8($v) => $body,
            $crate::log::EventCodes::U16($v) => $body,
            $crate::log::EventCodes::U32($v) => $body,
        }
    };
}

impl EventCodes {
    pub fn len(&self) -> usize {
        with_codes!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The code of one row (a match per call: for loops, use `with_codes!`).
    #[inline]
    pub fn get(&self, row: usize) -> u32 {
        with_codes!(self, v => v[row].index() as u32)
    }

    /// Every code widened to `u32`.
    pub fn to_u32(&self) -> Vec<u32> {
        with_codes!(self, v => v.iter().map(|c| c.index() as u32).collect())
    }

    /// Codes of a log with `names` distinct events, in the narrowest type that holds them.
    pub fn narrowest(codes: &[u32], names: usize) -> Self {
        if names <= u8::MAX as usize + 1 {
            EventCodes::U8(codes.iter().map(|&c| c as u8).collect())
        } else if names <= u16::MAX as usize + 1 {
            EventCodes::U16(codes.iter().map(|&c| c as u16).collect())
        } else {
            EventCodes::U32(codes.to_vec())
        }
    }
}

impl From<Vec<u32>> for EventCodes {
    /// Codes in the narrowest type that holds their largest value.
    fn from(codes: Vec<u32>) -> Self {
        let names = codes.iter().copied().max().map_or(0, |m| m as usize + 1);
        if names > u16::MAX as usize + 1 {
            return EventCodes::U32(codes);
        }
        EventCodes::narrowest(&codes, names)
    }
}
