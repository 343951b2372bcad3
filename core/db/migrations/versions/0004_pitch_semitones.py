"""Voice pitch is a shift in semitones (-12…+12, 0 unchanged), no longer a 0.5–2.0 multiplier.

The seed's examples write `"pitch": 0` and `"pitch": -1`. Every stored voice is converted:
agents' `voice`, templates' `default_voice`, and the voice inside each call's frozen
`agent_snapshot`, so an old call's record reads the same way as a new one. A multiplier p
(0.5–2.0, the only values the old validation let in) becomes round(12·log2(p), 2) semitones:
1.0 → 0, 2.0 → 12, 0.5 → -12. The downgrade turns semitones s (-12…12) back into 2^(s/12).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, JSONB column, path to the pitch inside it)
VOICE_PITCHES: tuple[tuple[str, str, str], ...] = (
    ("agent_configs", "voice", "{pitch}"),
    ("agent_templates", "default_voice", "{pitch}"),
    ("calls", "agent_snapshot", "{voice,pitch}"),
)

_TO_SEMITONES = "round((12 * log(2, ({value})::numeric))::numeric, 2)"
_TO_MULTIPLIER = "round(power(2, ({value})::numeric / 12), 4)"


def _convert(formula: str, low: float, high: float) -> None:
    for table, column, path in VOICE_PITCHES:
        value = f"{column} #>> '{path}'"
        # Only numbers in the old range are converted: anything else was never a valid pitch,
        # and is left for validation to report rather than guessed at here.
        op.execute(
            f"UPDATE {table} SET {column} = jsonb_set({column}, '{path}', "
            f"to_jsonb(({formula.format(value=value)})::float8)) "
            f"WHERE jsonb_typeof({column} #> '{path}') = 'number' "
            f"AND ({value})::numeric BETWEEN {low} AND {high}"
        )


def upgrade() -> None:
    _convert(_TO_SEMITONES, 0.5, 2.0)


def downgrade() -> None:
    _convert(_TO_MULTIPLIER, -12, 12)
