"""Review errors with stable codes (the app maps each kind to its HTTP status)."""

from __future__ import annotations

from mercato.kit.errors import Conflict, FieldError, InvalidInput, NotFound


class ReviewNotFound(NotFound):
    code = "review.not_found"
    title = "Review not found"

    def __init__(self) -> None:
        super().__init__("No such review.")


class AlreadyReviewed(Conflict):
    code = "review.already_reviewed"
    title = "Already reviewed"

    def __init__(self) -> None:
        super().__init__("You have already reviewed this product; edit your review instead.")


class OwnReview(Conflict):
    code = "review.own_review"
    title = "Own review"

    def __init__(self) -> None:
        super().__init__("You cannot vote on your own review.")


class InvalidTransition(Conflict):
    code = "review.invalid_transition"
    title = "Invalid moderation step"

    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"A review that is {status} cannot be {action}.")


class CommentRequired(InvalidInput):
    code = "review.comment_required"
    title = "Comment required"

    def __init__(self) -> None:
        super().__init__("Say why the review is rejected.",
                         errors=[FieldError("comment", "required", "A rejection needs a comment.")])


class InvalidVariant(InvalidInput):
    code = "review.invalid_variant"
    title = "Invalid variant"

    def __init__(self) -> None:
        super().__init__("The variant is not one of this product's variants.",
                         errors=[FieldError("variant_id", "invalid", "Use the id of a variant of this product.")])
