//! Registration status of a registrant or dependent (登録状況) and how the
//! statuses of a household are summarised into one.
//!
//! Limits: this module only names and orders statuses; which transitions are
//! allowed (who may approve, send back, …) is decided elsewhere.

/// Registration status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 未登録: nothing submitted yet.
    Unregistered,
    /// 承認待: submitted, waiting for approval.
    Pending,
    /// 差戻し: sent back to the submitter for correction.
    SentBack,
    /// 完了: approved.
    Completed,
    /// 拒否: the person refused to provide the number.
    Refused,
}

/// Row colour used by the registrant list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusColour {
    Pink,
    Yellow,
    White,
}

impl StatusColour {
    /// CSS class for the row.
    pub fn css_class(self) -> &'static str {
        match self {
            StatusColour::Pink => "status-pink",
            StatusColour::Yellow => "status-yellow",
            StatusColour::White => "status-white",
        }
    }
}

impl Status {
    /// Every status, in display order.
    pub const ALL: [Status; 5] = [
        Status::Unregistered,
        Status::Pending,
        Status::SentBack,
        Status::Completed,
        Status::Refused,
    ];

    /// Japanese label shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Status::Unregistered => "未登録",
            Status::Pending => "承認待",
            Status::SentBack => "差戻し",
            Status::Completed => "完了",
            Status::Refused => "拒否",
        }
    }

    /// Stable storage code.
    pub fn code(self) -> &'static str {
        match self {
            Status::Unregistered => "unregistered",
            Status::Pending => "pending",
            Status::SentBack => "sent_back",
            Status::Completed => "completed",
            Status::Refused => "refused",
        }
    }

    /// Inverse of [`Status::code`].
    pub fn from_code(code: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Row colour: 未登録 pink; 承認待・差戻し yellow; 完了・拒否 white.
    pub fn colour(self) -> StatusColour {
        match self {
            Status::Unregistered => StatusColour::Pink,
            Status::Pending | Status::SentBack => StatusColour::Yellow,
            Status::Completed | Status::Refused => StatusColour::White,
        }
    }

    /// Progress rank: 0 未登録, 1 承認待・差戻し, 2 完了・拒否.
    pub fn rank(self) -> u8 {
        match self {
            Status::Unregistered => 0,
            Status::Pending | Status::SentBack => 1,
            Status::Completed | Status::Refused => 2,
        }
    }

    /// Total order used by [`aggregate`]: rank first, then the status that
    /// needs attention (差戻し before 承認待, 拒否 before 完了).
    fn aggregate_key(self) -> (u8, u8) {
        let tie = match self {
            Status::Unregistered | Status::SentBack | Status::Refused => 0,
            Status::Pending | Status::Completed => 1,
        };
        (self.rank(), tie)
    }
}

/// Summarises several statuses (e.g. a registrant and their dependents) into
/// one: the lowest rank wins (未登録 < 承認待・差戻し < 拒否・完了). Within a
/// rank 差戻し beats 承認待 and 拒否 beats 完了. `None` for an empty input.
pub fn aggregate<I: IntoIterator<Item = Status>>(it: I) -> Option<Status> {
    it.into_iter().min_by_key(|s| s.aggregate_key())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn aggregate_picks_status_when_combination() {
        let cases: &[(&[Status], Option<Status>)] = &[
            (&[], None),
            (&[Completed], Some(Completed)),
            (&[Refused], Some(Refused)),
            (&[Unregistered], Some(Unregistered)),
            (&[Completed, Completed], Some(Completed)),
            (&[Completed, Unregistered], Some(Unregistered)),
            (&[Completed, Pending], Some(Pending)),
            (&[Completed, SentBack], Some(SentBack)),
            (&[Completed, Refused], Some(Refused)),
            (&[Refused, Completed], Some(Refused)),
            (&[Pending, SentBack], Some(SentBack)),
            (&[SentBack, Pending], Some(SentBack)),
            (&[Pending, Unregistered], Some(Unregistered)),
            (&[SentBack, Unregistered, Pending], Some(Unregistered)),
            (&[Refused, Pending], Some(Pending)),
            (&[Refused, SentBack, Completed], Some(SentBack)),
            (
                &[Completed, Refused, Pending, SentBack, Unregistered],
                Some(Unregistered),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(aggregate(input.iter().copied()), *expected, "{input:?}");
        }
    }

    #[test]
    fn attributes_match_table_when_each_status() {
        let cases = [
            (
                Unregistered,
                "未登録",
                "unregistered",
                StatusColour::Pink,
                0,
            ),
            (Pending, "承認待", "pending", StatusColour::Yellow, 1),
            (SentBack, "差戻し", "sent_back", StatusColour::Yellow, 1),
            (Completed, "完了", "completed", StatusColour::White, 2),
            (Refused, "拒否", "refused", StatusColour::White, 2),
        ];
        assert_eq!(cases.len(), Status::ALL.len());
        for (status, label, code, colour, rank) in cases {
            assert_eq!(status.label(), label);
            assert_eq!(status.code(), code);
            assert_eq!(status.colour(), colour);
            assert_eq!(status.rank(), rank);
            assert_eq!(Status::from_code(code), Some(status));
        }
    }

    #[test]
    fn from_code_returns_none_when_unknown() {
        for code in ["", "Pending", "未登録", "sent-back"] {
            assert_eq!(Status::from_code(code), None);
        }
    }

    #[test]
    fn css_class_matches_when_each_colour() {
        assert_eq!(StatusColour::Pink.css_class(), "status-pink");
        assert_eq!(StatusColour::Yellow.css_class(), "status-yellow");
        assert_eq!(StatusColour::White.css_class(), "status-white");
    }
}
