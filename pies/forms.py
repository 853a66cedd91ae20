"""The pie editor's form: the whole tree as flat rows, posted back and forth.

A nested tree does not fit Django's flat forms, so the editor posts one row per slice
(``row=r3`` plus ``r3-parent``, ``r3-kind``, ``r3-id``, ``r3-pie_id``, ``r3-symbol``,
``r3-name``, ``r3-target``, ``r3-removed``) and the hidden ``version``. Everything the browser
sends is untrusted: quantities, statuses and security names come from the stored portfolio,
and the tree built here goes through ``pies.services`` validation (the one set of pie rules)
before anything is saved. This module only parses, edits the rows (add, remove, undo) and
maps the service's errors (keyed by JSON path) back to the rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms

from pies.models import MAX_DEPTH
from pies.services import parse_target
from pies.tree import PieView, PortfolioView
from trading.forms import WholeNumberField
from trading.money import ZERO, parse_whole
from trading.renderers import loads

ROW_KEY = re.compile(r"^r\d{1,4}$")
MAX_ROWS = 600  # generous: 100 securities plus sub-pies plus removed rows
HUNDRED_BP = 10000


class EditorDataError(ValueError):
    """The posted rows do not describe a tree (tampered or truncated form)."""


@dataclass
class Row:
    key: str
    parent: str  # "" is the portfolio pie
    kind: str  # "security" | "pie"
    slice_id: int | None = None
    pie_id: int | None = None
    symbol: str = ""
    name: str = ""
    target: str = ""
    removed: bool = False
    # From the stored portfolio, never from the form:
    status: str = "new"  # "active" | "removing" | "new"
    quantity: Decimal = ZERO
    security_name: str = ""
    # Filled in while rendering and validating:
    depth: int = 2
    label: str = ""
    path: str = ""  # sub-pies: their path from the portfolio pie ("Growth/Tech")
    errors: dict[str, list[str]] = field(default_factory=dict)
    total_bp: int | None = None
    holds_shares: bool = False
    removal_preview: Any = None
    number: int = 0  # sub-pies: their position among the sub-pies, for stable labels
    move_choices: list[tuple[str, str]] = field(default_factory=list)
    rebuys: Row | None = None  # a new row of the security this removed row sells
    sold_by: Row | None = None  # on the new row: the removed row whose shares it buys back

    @property
    def is_pie(self) -> bool:
        return self.kind == "pie"

    @property
    def is_new(self) -> bool:
        return self.slice_id is None

    @property
    def target_bp(self) -> int | None:
        try:
            return parse_target(self.target)
        except ValueError:
            return None

    @property
    def will_be_sold(self) -> bool:
        """Removed (or set to 0) while holding shares: the next window sells it."""
        return self.holds_shares and (self.removed or self.target_bp == 0)

    @property
    def estimated_gain(self) -> Any:
        """The gain selling this row would realise (None for a retirement account)."""
        preview = self.removal_preview
        if preview is None or not preview.taxable:
            return None
        return preview.short_term_gain + preview.long_term_gain

    @property
    def total_percent(self) -> str:
        bp = self.total_bp or 0
        return f"{bp // 100}.{bp % 100:02d}"

    @property
    def total_ok(self) -> bool:
        return self.total_bp == HUNDRED_BP


@dataclass
class PieEditor:
    account_id: int
    version: int
    name: str
    rows: list[Row]
    top_errors: list[str] = field(default_factory=list)
    name_errors: list[str] = field(default_factory=list)
    root_errors: list[str] = field(default_factory=list)
    conflict: str = ""
    add_to: str = ""
    query: str = ""
    root_total_bp: int = 0
    validated: bool = False
    focus: str = ""  # the key of a row just added: its first input gets the focus
    changed: bool = False  # differs from the stored pie (Cancel asks before discarding it)

    # --- building ------------------------------------------------------------------------

    @classmethod
    def from_portfolio(cls, portfolio: PortfolioView) -> PieEditor:
        rows: list[Row] = []

        def walk(view: PieView, parent: str) -> None:
            for slice_ in view.slices:
                key = f"r{len(rows)}"
                row = Row(
                    key=key,
                    parent=parent,
                    kind="pie" if slice_.child is not None else "security",
                    slice_id=slice_.id,
                    pie_id=slice_.child.id if slice_.child is not None else None,
                    symbol=slice_.symbol or "",
                    name=slice_.child.name if slice_.child is not None else "",
                    target=f"{slice_.target_percent:.2f}",
                )
                rows.append(row)
                if slice_.child is not None:
                    walk(slice_.child, key)

        walk(portfolio.root, "")
        editor = cls(
            account_id=portfolio.account.pk,
            version=portfolio.version,
            name=portfolio.root.name,
            rows=rows,
        )
        editor.annotate(portfolio)
        return editor

    @classmethod
    def from_post(cls, data: Mapping[str, Any], portfolio: PortfolioView) -> PieEditor:
        keys = data.getlist("row") if hasattr(data, "getlist") else list(data.get("row", []))
        if len(keys) > MAX_ROWS:
            raise EditorDataError("Too many rows.")
        if len(set(keys)) != len(keys) or not all(ROW_KEY.match(k) for k in keys):
            raise EditorDataError("Malformed rows.")
        try:
            version = parse_whole(str(data.get("version", "")).strip(), digits=18)
        except ValueError:
            raise EditorDataError("Missing version.") from None
        rows = []
        for key in keys:
            kind = data.get(f"{key}-kind", "")
            if kind not in ("security", "pie"):
                raise EditorDataError("Malformed row kind.")
            rows.append(
                Row(
                    key=key,
                    parent=data.get(f"{key}-parent", ""),
                    kind=kind,
                    slice_id=_optional_id(data.get(f"{key}-id")),
                    pie_id=_optional_id(data.get(f"{key}-pie_id")),
                    symbol=str(data.get(f"{key}-symbol", "")).strip().upper()[:12],
                    name=str(data.get(f"{key}-name", ""))[:200],
                    target=str(data.get(f"{key}-target", "")).strip()[:40],
                    removed=data.get(f"{key}-removed") == "1",
                )
            )
        by_key = {row.key: row for row in rows}
        for row in rows:
            if row.parent and (row.parent not in by_key or not by_key[row.parent].is_pie):
                raise EditorDataError("A row's parent is missing.")
        moved_back = _break_cycles(rows)
        editor = cls(
            account_id=portfolio.account.pk,
            version=version,
            name=str(data.get("name", portfolio.root.name))[:200],
            rows=rows,
            add_to=str(data.get("add_to", "")),
            query=str(data.get("q", "")).strip()[:50],
        )
        if editor.add_to and editor.add_to not in by_key:
            editor.add_to = ""
        editor.ordered()
        for row in moved_back:
            editor.top_errors.append(
                f"{row.label} cannot go inside itself or its own sub-pies: it is back at the "
                "top level. Choose where it goes again."
            )
        editor.annotate(portfolio)
        return editor

    def annotate(self, portfolio: PortfolioView) -> None:
        """Facts from the stored portfolio, by slice id: status, shares, security name."""
        stored = {}
        for view in portfolio.root.pies():
            for slice_ in view.slices:
                stored[slice_.id] = slice_
        for row in self.rows:
            found = stored.get(row.slice_id) if row.slice_id else None
            if found is None:
                row.status = "new"
                continue
            row.status = found.status
            row.security_name = found.security_name
            row.quantity = found.quantity
            row.holds_shares = any(leaf.quantity > 0 for leaf in found.leaves())

    # --- the tree ------------------------------------------------------------------------

    def children(self) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        for row in self.rows:
            out.setdefault(row.parent, []).append(row)
        return out

    def ordered(self) -> list[Row]:
        """Rows depth-first (each sub-pie's slices under it), with depth and labels set."""
        children = self.children()
        result: list[Row] = []
        seen: set[str] = set()
        pie_number = 0

        def walk(parent: str, depth: int, path: str, removed: bool) -> None:
            nonlocal pie_number
            for row in children.get(parent, []):
                if row.key in seen:
                    raise EditorDataError("The rows form a cycle.")
                seen.add(row.key)
                row.depth = depth
                if row.is_pie:
                    pie_number += 1
                    row.number = pie_number
                    shown = row.name.strip() or f"new sub-pie {pie_number}"
                    row.label = shown
                    row.path = f"{path}{shown}"
                    walk(row.key, depth + 1, f"{path}{shown}/", removed or row.removed)
                else:
                    row.label = f"{path}{row.symbol}"
                if removed:
                    row.removed = True  # removing a sub-pie removes what is in it

        walk("", 2, "", False)
        if len(seen) != len(self.rows):
            raise EditorDataError("Some rows are not part of the tree.")
        return result_in_order(children, result)

    def pies(self) -> list[Row]:
        return [row for row in self.ordered() if row.is_pie and not row.removed]

    def tree(self) -> tuple[dict[str, Any], dict[str, Row]]:
        """The api.md PUT shape (removed rows left out: the service retires them), and which
        row each JSON path came from."""
        children = self.children()
        paths: dict[str, Row] = {}

        def build(parent: str, prefix: str) -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            for row in children.get(parent, []):
                if row.removed:
                    continue
                key = f"{prefix}slices.{len(out)}"
                paths[key] = row
                item: dict[str, Any] = {"target_percent": row.target}
                if row.slice_id is not None:
                    item["id"] = row.slice_id
                if row.is_pie:
                    sub: dict[str, Any] = {
                        "name": row.name,
                        "slices": build(row.key, f"{key}.pie."),
                    }
                    if row.pie_id is not None:
                        sub["id"] = row.pie_id
                    item["pie"] = sub
                else:
                    item["symbol"] = row.symbol
                out.append(item)
            return out

        return {"name": self.name, "version": self.version, "slices": build("", "")}, paths

    def signature(self) -> tuple[Any, ...]:
        """What a save would store, independent of row keys and of how targets are typed."""
        children = self.children()

        def walk(parent: str) -> tuple[Any, ...]:
            return tuple(
                (
                    row.slice_id,
                    row.kind,
                    row.symbol,
                    row.name.strip(),
                    row.target_bp if row.target_bp is not None else row.target,
                    walk(row.key) if row.is_pie else (),
                )
                for row in children.get(parent, [])
                if not row.removed
            )

        return (self.name.strip(), walk(""))

    def prepare(self, portfolio: PortfolioView) -> None:
        """What rendering needs beyond the rows: totals, move choices, buy-backs, and
        whether anything differs from the stored pie."""
        self.totals()
        self.annotate_moves()
        self.annotate_rebuys()
        self.changed = self.signature() != PieEditor.from_portfolio(portfolio).signature()

    def annotate_moves(self) -> None:
        """Each row's "Move to" choices: every pie of the tree except the row itself and its
        own sub-pies, and none that would nest pies deeper than MAX_DEPTH (product.md)."""
        ordered = self.ordered()
        children = self.children()
        pies = [row for row in ordered if row.is_pie and not row.removed]

        def height(row: Row) -> int:  # pie levels from ``row`` down, itself included
            subs = [child for child in children.get(row.key, []) if child.is_pie]
            return 1 + max((height(child) for child in subs), default=0)

        top = ("", f"{self.name.strip() or 'Portfolio'} (top level)")
        for row in ordered:
            inside = self._subtree(row)
            levels = height(row) if row.is_pie else 0
            row.move_choices = [top] + [
                (pie.key, pie.path)
                for pie in pies
                if pie.key not in inside and pie.depth + levels <= MAX_DEPTH
            ]

    def annotate_rebuys(self) -> None:
        """A held security removed in one place and added in another is a sale and a buy:
        pair them, so the editor can say so (and offer a move) before saving."""
        sold = {row.symbol: row for row in self.rows if row.will_be_sold and not row.is_pie}
        for row in self.rows:
            row.rebuys = row.sold_by = None
        for row in self.rows:
            if row.is_new and not row.is_pie and not row.removed and row.symbol in sold:
                row.sold_by = sold[row.symbol]
                sold[row.symbol].rebuys = row

    # --- editing -------------------------------------------------------------------------

    def next_key(self) -> str:
        used = {int(row.key[1:]) for row in self.rows}
        return f"r{max(used, default=-1) + 1}"

    def apply(self, op: str) -> None:
        """Add, remove or restore rows. Unknown operations change nothing."""
        by_key = {row.key: row for row in self.rows}
        action, _, argument = op.partition(":")
        parent = self.add_to if self.add_to in by_key else ""
        if action in ("add-security", "add-pie") and len(self.rows) >= MAX_ROWS:
            self.top_errors.append("This pie has too many rows to add more.")
            return
        if action in ("add-security", "add-pie") and parent:
            self.ordered()
            if action == "add-pie" and by_key[parent].depth + 1 > MAX_DEPTH:
                self.top_errors.append(f"Sub-pies nest at most {MAX_DEPTH} levels deep.")
                return
        if action == "add-security":
            symbol = argument.strip().upper()[:12]
            if symbol:
                self._add(Row(key=self.next_key(), parent=parent, kind="security", symbol=symbol))
                self.query = ""  # the search is done: the next one starts empty
        elif action == "add-pie":
            self._add(Row(key=self.next_key(), parent=parent, kind="pie"))
        elif action == "split" and (argument == "" or argument in by_key):
            self.split_evenly(argument)
        elif action == "move" and argument in by_key:
            # The new parent came with the form; the moved row goes last among its siblings.
            self.rows.remove(by_key[argument])
            self.rows.append(by_key[argument])
        elif action == "move-instead" and argument in by_key:
            self.move_instead(by_key[argument])
        elif action in ("remove", "restore") and argument in by_key:
            row = by_key[argument]
            if action == "remove" and row.is_new and not self._has_stored_descendant(row):
                self.rows = [r for r in self.rows if r.key not in self._subtree(row)]
            else:
                for key in self._subtree(row):
                    by_key[key].removed = action == "remove"

    def _add(self, row: Row) -> None:
        """A new row gets what its pie still lacks of 100% as its target, and the focus."""
        taken = sum(
            (sibling.target_bp or 0)
            for sibling in self.rows
            if sibling.parent == row.parent and not sibling.removed
        )
        if taken < HUNDRED_BP:
            row.target = _percent(HUNDRED_BP - taken)
        self.rows.append(row)
        self.focus = row.key

    def split_evenly(self, parent: str) -> None:
        """Give the slices of one pie equal targets; the odd basis points go to the first."""
        siblings = [row for row in self.rows if row.parent == parent and not row.removed]
        if not siblings:
            return
        share, extra = divmod(HUNDRED_BP, len(siblings))
        for index, row in enumerate(siblings):
            row.target = _percent(share + (1 if index < extra else 0))

    def move_instead(self, new: Row) -> None:
        """Replace a new row that buys back a removed security by a move of the old slice:
        the shares, lots and history stay, and nothing trades."""
        old = next(
            (
                row
                for row in self.rows
                if row.removed
                and row.slice_id is not None
                and not row.is_pie
                and row.symbol == new.symbol
            ),
            None,
        )
        if old is None or new.is_pie or not new.is_new:
            return
        old.removed, old.parent, old.target = False, new.parent, new.target
        self.rows.remove(old)
        self.rows[self.rows.index(new)] = old
        self.focus = old.key

    def _subtree(self, row: Row) -> set[str]:
        children = self.children()
        keys = {row.key}
        stack = [row.key]
        while stack:
            for child in children.get(stack.pop(), []):
                if child.key not in keys:
                    keys.add(child.key)
                    stack.append(child.key)
        return keys

    def _has_stored_descendant(self, row: Row) -> bool:
        by_key = {r.key: r for r in self.rows}
        return any(by_key[key].slice_id is not None for key in self._subtree(row))

    # --- validation ----------------------------------------------------------------------

    def totals(self) -> None:
        """Running totals of each pie's targets (of the ones that parse)."""
        children = self.children()
        for row in [None, *self.rows]:
            key = "" if row is None else row.key
            if row is not None and not row.is_pie:
                continue
            total = sum(
                (child.target_bp or 0) for child in children.get(key, []) if not child.removed
            )
            if row is None:
                self.root_total_bp = total
            else:
                row.total_bp = total

    @property
    def root_total_percent(self) -> str:
        return f"{self.root_total_bp // 100}.{self.root_total_bp % 100:02d}"

    @property
    def root_total_ok(self) -> bool:
        return self.root_total_bp == HUNDRED_BP

    def apply_errors(self, errors: Mapping[str, list[str]], paths: Mapping[str, Row]) -> None:
        """Put the service's errors (keyed by JSON path) next to the right input."""
        self.validated = True
        for key, messages in errors.items():
            messages = list(messages)
            if key == "name":
                self.name_errors += messages
                continue
            if key == "slices":
                self.root_errors += messages
                continue
            row, rest = _owner(key, paths)
            if row is None:
                self.top_errors += messages
                continue
            slot = {
                "target_percent": "target",
                "symbol": "symbol",
                "pie.name": "name",
                "pie.slices": "total",
            }.get(rest, "row")
            row.errors.setdefault(slot, []).extend(messages)
        for row in self.rows:
            if not row.removed and row.is_new and row.target_bp == 0:
                row.errors.setdefault("target", []).append(
                    "Enter a target above 0, or remove the slice."
                )

    @property
    def has_errors(self) -> bool:
        return bool(
            self.top_errors
            or self.name_errors
            or self.root_errors
            or any(row.errors for row in self.rows)
        )

    def error_count(self) -> int:
        return (
            len(self.top_errors)
            + len(self.name_errors)
            + len(self.root_errors)
            + sum(len(messages) for row in self.rows for messages in row.errors.values())
        )

    def pie_choices(self) -> Iterator[tuple[str, str]]:
        yield "", f"{self.name or 'Portfolio'} (top level)"
        for row in self.pies():
            yield row.key, row.path


def _percent(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}"


def _break_cycles(rows: list[Row]) -> list[Row]:
    """Rows whose parents lead back to themselves (two moves into each other, posted at once
    without JavaScript) go back to the top level; the editor says so."""
    parent_of = {row.key: row.parent for row in rows}
    by_key = {row.key: row for row in rows}
    moved: list[Row] = []
    for row in rows:
        seen = {row.key}
        key = parent_of[row.key]
        while key:
            if key in seen:
                by_key[key].parent = ""
                parent_of[key] = ""
                moved.append(by_key[key])
                break
            seen.add(key)
            key = parent_of[key]
    return moved


def result_in_order(children: dict[str, list[Row]], result: list[Row]) -> list[Row]:
    def walk(parent: str) -> None:
        for row in children.get(parent, []):
            result.append(row)
            if row.is_pie:
                walk(row.key)

    walk("")
    return result


def _optional_id(raw: Any) -> int | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return parse_whole(text, digits=18)
    except ValueError:
        raise EditorDataError("Malformed id.") from None


def _owner(key: str, paths: Mapping[str, Row]) -> tuple[Row | None, str]:
    """The row whose JSON path is the longest prefix of ``key``, and the rest of the key."""
    best: tuple[Row | None, str] = (None, "")
    best_length = -1
    for path, row in paths.items():
        if (key == path or key.startswith(path + ".")) and len(path) > best_length:
            best = (row, key[len(path) + 1 :])
            best_length = len(path)
    return best


class PieImportForm(forms.Form):
    """Import the open pie format (api.md): paste it or upload the file."""

    version = WholeNumberField(widget=forms.HiddenInput, min_value=1)
    # A field named like BaseForm.data: the form's metaclass moves declared fields into
    # base_fields, so form.data is still the bound data at run time.
    data = forms.CharField(  # type: ignore[assignment]
        label="Pie JSON",
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
        help_text='The open pie format: {"format": "pies/1", "name": …, "slices": […]}.',
        max_length=200_000,
    )
    file = forms.FileField(label="Or upload a pie file (.json)", required=False)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        upload = cleaned.get("file")
        text = cleaned.get("data") or ""
        if upload is not None:
            if upload.size > 200_000:
                self.add_error("file", "The file is too large for a pie (at most 200 KB).")
                return cleaned
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("file", "The file is not UTF-8 text.")
                return cleaned
        if not text.strip():
            self.add_error("data", "Paste the pie JSON or choose a file.")
            return cleaned
        try:
            cleaned["parsed"] = loads(text)
        except ValueError as error:
            field_name = "file" if upload is not None else "data"
            self.add_error(field_name, f"This is not valid JSON: {error}.")
        return cleaned
