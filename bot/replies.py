"""What the bot says: verdict lines, buttons and fixed texts, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.events import Button
from bot.moderation.payloads import appeal_payload
from classifier import Verdict

if TYPE_CHECKING:
    from bot.judging import Judged

LABEL_TEXT = {"meme": "Meme", "not_meme": "Not a meme"}
LABEL_EMOJI = {"meme": "😂", "not_meme": "🖼️"}
OTHER_LABEL = {"meme": "not_meme", "not_meme": "meme"}
FEEDBACK_PREFIX = "fb"

HELP = """\
I tell memes from non-memes. Post an image and I'll say which it is.

/classify – reply to an image to check it
/correct meme|not_meme – reply to an image or my verdict to set me straight
/explain – reply to an image to see which parts drove my verdict (heatmap)
/memeify – reply to a photo of a face and I'll caption it to match the expression
/stats – what I've seen in this chat
/report [days] – what memes-only did lately, and the threshold the corrections point to
/help – this message
Removed by mistake? Press Appeal under the notice (only the poster can).

Moderators:
/memesonly on|off|status – remove non-memes from this chat
/mode delete|warn|dryrun – what happens to non-memes in a memes-only chat
/threshold 0.5–0.99 – how sure I must be before acting
/review_threshold 0.5–0.99|off – where doubtful non-memes start: kept and queued for review
/review – the queue: doubtful posts and appeals, with buttons
/reviewchat [CODE|off|status] – send the queue to a moderators' chat as well
/labels, /unlabel N – your labels (your corrections are this chat's labels at once)
/audit – the last 20 moderator actions and removals
/autoreply on|off – reply to every image, or stay quiet
/export – download the corrections as a training set (zip)"""

APOLOGY = "Sorry, something went wrong on my side. It has been logged."

IMAGING_USAGE = {
    "explain": "Reply to a message with an image and send /explain: I'll show which parts drove my verdict.",
    "memeify": "Reply to a photo of a person and send /memeify: I'll turn it into a meme.",
}
EXPLAIN_BUSY = "I'm busy explaining other images right now. Please try again in a minute."
MEMEIFY_BUSY = "I'm busy making other memes right now. Please try again in a minute."
NOT_RECORDED = "(I couldn't save this verdict: my database is failing, so it has no buttons.)"
CORRECTION_NOT_RECORDED = "I couldn't save that correction: my database is failing. Please try again later."
DOWNLOAD_FAILED = "I couldn't download that image. Please try again later."


def label_text(label: str) -> str:
    return LABEL_TEXT.get(label, label)


def verdict_line(verdict: Verdict) -> str:
    return verdict_text(verdict.label, verdict.confidence)


def judged_text(judged: Judged) -> str:
    """The verdict as the chat goes by it: a moderator's label, else the model's verdict."""
    if judged.trusted is not None:
        label = judged.trusted.label
        return f"{LABEL_EMOJI.get(label, '')} {label_text(label)} (a moderator's label)".strip()
    assert judged.verdict is not None, "only judged images with a verdict have a line"
    return verdict_line(judged.verdict)


def labelled(label: str, label_id: int, *, reposts: bool) -> str:
    """The thanks for a moderator's correction, which becomes the chat's label at once."""
    covers = "this image and its reposts" if reposts else "this exact file"
    return (
        f"Thanks! Noted: {label_text(label).lower()}. That's this chat's label for {covers} from now on "
        f"(label #{label_id}; /unlabel {label_id} undoes it)."
    )


def duration(seconds: float) -> str:
    """'5 minutes', '1 hour', '45 seconds': how long a notice stays, as people say it."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    if seconds >= 120:
        return f"{round(seconds / 60)} minutes"
    count = max(1, round(seconds))
    return f"{count} second{'s' if count != 1 else ''}"


def verdict_text(label: str, confidence: float) -> str:
    return f"{LABEL_EMOJI.get(label, '')} {label_text(label)} ({confidence:.0%})".strip()


def feedback_buttons(classification_id: int, index: int | None = None) -> list[Button]:
    suffix = "" if index is None else f" {index}"
    return [
        Button(f"✅ Right{suffix}", feedback_payload(classification_id, right=True)),
        Button(f"❌ Wrong{suffix}", feedback_payload(classification_id, right=False)),
    ]


def appeal_button(classification_id: int, index: int | None = None) -> Button:
    """The button under a removal or warning that only the poster may press."""
    suffix = "" if index is None else f" {index}"
    return Button(f"⚖️ Appeal{suffix}", appeal_payload(classification_id))


def feedback_payload(classification_id: int, *, right: bool) -> str:
    return f"{FEEDBACK_PREFIX}:{classification_id}:{'r' if right else 'w'}"


def parse_feedback_payload(payload: str) -> tuple[int, bool] | None:
    parts = payload.split(":")
    if len(parts) != 3 or parts[0] != FEEDBACK_PREFIX or parts[2] not in ("r", "w"):
        return None
    # Record ids are 64-bit database integers: a longer number (forged, or mangled) is not one of mine.
    if not parts[1].isdigit() or int(parts[1]) >= 2**63:
        return None
    return int(parts[1]), parts[2] == "r"


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def explain_caption(label: str, confidence: float) -> str:
    verdict = verdict_text(label, confidence)
    return f"{verdict}. Red marks what pushed me most towards that verdict, blue what mattered least."


def first_of(count: int) -> str:
    """A note for albums: the imaging commands look at the first image only."""
    return f" (I looked at the first of {count} images.)" if count > 1 else ""


def unchecked_poster(platform: str, name: str) -> str:
    """The line under a verdict that memes-only would have acted on, had the admin check worked."""
    platform_name = {"telegram": "Telegram", "discord": "Discord"}.get(platform, platform)
    return (
        f"⚠️ This chat is memes only, but I couldn't check whether {name} is an admin here "
        f"({platform_name} didn't answer), so I left the post alone."
    )
