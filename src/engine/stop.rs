//! The stop rule: why a running transfer was told to stop, and what several requests for one
//! transfer amount to. Pure; depends only on tokio-util's cancellation token.

use tokio_util::sync::CancellationToken;

/// Why a running transfer was told to stop; decides what its end means.
///
/// A transfer takes a moment to stop, and more requests may arrive meanwhile (a pause while a
/// new connection count restarts it, a remove after a cancel). The rule: **the strongest
/// request wins**, in this order, weakest first:
///
/// `Restart` < `Shutdown` < `Pause` < `Cancel` < `Remove`
///
/// and a request to delete the `.part` is kept whichever of cancel and remove wins. So nothing
/// the person asked for is lost or weakened by a later, milder request: a pause is not undone
/// by a restart, a remove is not downgraded by a cancel, a delete is not forgotten, and
/// quitting leaves a paused item paused. `Resume` withdraws a pause that has not taken effect
/// yet (the transfer then continues from its `.part`, as after a restart). A transfer that
/// finished before it saw a request ends as what it did (done or failed), except that a
/// remove still removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Stop and queue again at once (to apply a new connection count).
    Restart,
    Shutdown,
    Pause,
    Cancel {
        delete_partial: bool,
    },
    Remove {
        delete_partial: bool,
    },
}

impl StopReason {
    fn strength(self) -> u8 {
        match self {
            Self::Restart => 0,
            Self::Shutdown => 1,
            Self::Pause => 2,
            Self::Cancel { .. } => 3,
            Self::Remove { .. } => 4,
        }
    }

    fn deletes_partial(self) -> bool {
        matches!(self, Self::Cancel { delete_partial: true } | Self::Remove { delete_partial: true })
    }

    /// What two requests for one transfer amount to (see the rule above).
    pub fn combined(self, other: StopReason) -> StopReason {
        let strongest = if other.strength() > self.strength() { other } else { self };
        let delete_partial = self.deletes_partial() || other.deletes_partial();
        match strongest {
            Self::Cancel { .. } => Self::Cancel { delete_partial },
            Self::Remove { .. } => Self::Remove { delete_partial },
            weaker => weaker,
        }
    }
}

/// A running transfer as the scheduler holds it: the token that stops it and the request to
/// stop it still waiting for the transfer to end.
#[derive(Debug)]
pub struct Running {
    pub token: CancellationToken,
    pub stop: Option<StopReason>,
    /// The person gave the item a new URL while it ran: it wins over a link the transfer got
    /// from the refresh command meanwhile.
    pub url_replaced: bool,
}

impl Running {
    pub fn new(token: CancellationToken) -> Self {
        Self { token, stop: None, url_replaced: false }
    }

    /// Asks the transfer to stop for `reason`, combined with any request already pending.
    pub fn request_stop(&mut self, reason: StopReason) {
        self.stop = Some(self.stop.map_or(reason, |pending| pending.combined(reason)));
        self.token.cancel();
    }

    /// `Resume` before a pause took effect: the transfer stops anyway (its token has fired)
    /// and goes straight back to the queue instead of to paused.
    pub fn withdraw_pause(&mut self) {
        if self.stop == Some(StopReason::Pause) {
            self.stop = Some(StopReason::Restart);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StopReason::{self, *};

    #[test]
    fn the_strongest_request_wins_whatever_the_order() {
        let all = [
            Restart,
            Shutdown,
            Pause,
            Cancel { delete_partial: false },
            Cancel { delete_partial: true },
            Remove { delete_partial: false },
            Remove { delete_partial: true },
        ];
        for a in all {
            for b in all {
                let both = a.combined(b);
                assert_eq!(both, b.combined(a), "{a:?} then {b:?}");
                assert_eq!(both.strength(), a.strength().max(b.strength()), "{a:?} + {b:?}");
                assert_eq!(both.deletes_partial(), a.deletes_partial() || b.deletes_partial());
            }
        }
    }

    #[test]
    fn a_request_to_delete_the_part_survives_a_milder_one() {
        let cases: [(StopReason, StopReason, StopReason); 3] = [
            (
                Cancel { delete_partial: true },
                Cancel { delete_partial: false },
                Cancel { delete_partial: true },
            ),
            (
                Cancel { delete_partial: true },
                Remove { delete_partial: false },
                Remove { delete_partial: true },
            ),
            (Cancel { delete_partial: true }, Pause, Cancel { delete_partial: true }),
        ];
        for (first, then, expected) in cases {
            assert_eq!(first.combined(then), expected);
        }
    }
}
