"""A Jinja2 sandbox whose templates do bounded work, for templates written by users.

Nothing is computed when a template compiles (no constant folding: compiling
`{{ 2 ** (10**9) }}` costs nothing, and `refuse_large_constants` refuses it without computing
it). Rendering happens inside `budget(limits)`:

- every arithmetic operator, filter, test, call, comparison, slice, `~` and literal goes
  through the environment, which checks the time left and refuses, before computing it, a
  result heavier than the limit (`template_limits`): `'x' * 10**9`, `2 ** (10**9)`,
  `'x'|center(10**9)`, `'%999999999s' % 1`, `'{:999999999}'.format(1)`;
- each loop iteration and each call of a macro or `caller()` counts against the
  iterations allowed, and checks the time left;
- the text each `{{ }}` and each piece of template text writes counts against the output
  allowed (including text a macro or `{% set %}` block writes before it is used).

Steps between two checks are each bounded by the value limit, so a render that runs out of
time stops within one such step (at worst about 0.2 s: weighing a value at the limit). A
render over budget raises BudgetExceeded.
The `pprint` filter and the `lipsum` global are not offered (their cost is not bounded).
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import update_wrapper, wraps
from time import monotonic
from types import GeneratorType
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame, operators
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import escape

from domain.template_limits import (
    DEFAULT_LIMITS,
    FILTERS,
    METHODS,
    BudgetExceeded,
    Limits,
    bounded_list,
    check_binop,
    format_size,
    refuse_over,
    weight,
)

ARITHMETIC = frozenset({"+", "-", "*", "/", "//", "%", "**"})
NOT_OFFERED = ("pprint",)


class _Budget:
    """What is left of one render's budget."""

    __slots__ = ("deadline", "iterations", "limits", "output")

    def __init__(self, limits: Limits) -> None:
        self.limits, self.deadline = limits, monotonic() + limits.seconds
        self.iterations, self.output = limits.loop_iterations, limits.output_chars


_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


@contextmanager
def budget(limits: Limits) -> Iterator[None]:
    """Templates rendered inside run on this budget (outside: only values are bounded)."""
    token = _BUDGET.set(_Budget(limits))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def tick() -> int:
    """Refuses to go on once the render's time is up; answers the value weight limit."""
    spent = _BUDGET.get()
    if spent is None:
        return DEFAULT_LIMITS.output_chars
    if monotonic() > spent.deadline:
        raise BudgetExceeded(f"rendering took over {spent.limits.seconds:g} s")
    return spent.limits.output_chars


def bounded(value: Any, limit: int) -> Any:
    """`value` if it weighs at most `limit`; a generator is counted as it is consumed."""
    if isinstance(value, str):
        refuse_over(len(value), limit, "a text")
    elif isinstance(value, GeneratorType):
        return _Lazy(value, limit)
    else:
        refuse_over(weight(value, limit), limit, "a value")
    return value


class _Lazy(Iterator[Any]):
    """A generator a filter made (`map`, `select`...), refused once the items it made
    weigh more than the list they would make may."""

    __slots__ = ("_items", "_left")

    def __init__(self, items: Iterator[Any], limit: int) -> None:
        self._items, self._left = items, limit

    def __next__(self) -> Any:
        tick()
        item = next(self._items)
        self._left -= weight(item, self._left) + 2
        if self._left < 0:
            raise BudgetExceeded("a sequence would be over the limit")
        return item


def _spend_output(characters: int) -> None:
    """Counts written characters against the render's output (no time check: what is
    written is bounded by the output allowed)."""
    spent = _BUDGET.get()
    if spent is not None:
        spent.output -= characters
        if spent.output < 0:
            raise BudgetExceeded(f"output over {spent.limits.output_chars:,} characters")


@pass_context
def _written(context: Context, value: Any) -> str:
    """The text a `{{ }}` writes (the environment's `finalize`, which escapes it), counted
    as output."""
    spent = _BUDGET.get()
    limit = spent.limits.output_chars if spent is not None else DEFAULT_LIMITS.output_chars
    if type(value) is not str:
        refuse_over(weight(value, limit), limit, "a value written out")
    text = escape(value) if context.eval_ctx.autoescape else str(value)
    if spent is not None:
        spent.output -= len(text)
        if spent.output < 0:
            raise BudgetExceeded(f"output over {limit:,} characters")
    return text


def _bounded_filter(name: str, function: Any) -> Any:
    estimate = FILTERS.get(name)
    skip = 1 if hasattr(function, "jinja_pass_arg") else 0

    @wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        limit = tick()
        if name == "join" and len(args) > skip:
            separator = args[skip + 1] if len(args) > skip + 1 else kwargs.get("d", "")
            items = bounded_list(args[skip], limit, weight(separator, limit))
            args = (*args[:skip], items, *args[skip + 1 :])
        elif estimate is not None:
            refuse_over(estimate(limit, *args[skip:], **kwargs), limit, f"`{name}`")
        return bounded(function(*args, **kwargs), limit)

    return checked


def _ticked(function: Any) -> Any:
    @wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        tick()
        return function(*args, **kwargs)

    return checked


def _iteration(lineno: int) -> nodes.Stmt:
    """The start of a loop's body, a macro's or a call block's: counted and timed (Jinja
    allows no node types of our own: a call the parser never makes stands for it)."""
    call = nodes.Call(nodes.EnvironmentAttribute("iterate"), [], [], None, None)
    return nodes.ExprStmt(call, lineno=lineno)


class BoundedCodeGenerator(CodeGenerator):
    """Jinja's code, with the checks of BoundedEnvironment called where work happens."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        for scope in list(node.find_all((nodes.For, nodes.Macro, nodes.CallBlock))):
            scope.body.insert(0, _iteration(scope.lineno))
        super().visit_Template(node, frame)

    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        if isinstance(node.node, nodes.EnvironmentAttribute) and node.node.name == "iterate":
            self.write("environment.iterate()")
        else:
            super().visit_Call(node, frame, forward_caller=forward_caller)

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        text = sum(len(c.data) for c in node.nodes if isinstance(c, nodes.TemplateData))
        if text:
            self.writeline(f"environment.spend({text})")
        super().visit_Output(node, frame)

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write("environment.finalize(context, ")  # which escapes, see _written

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write(")")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concatenate(context.eval_ctx.autoescape, (")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")

    def visit_Operand(self, node: nodes.Operand, frame: Frame) -> None:
        self.write(f" {operators[node.op]} environment.ticked(")
        self.visit(node.expr, frame)
        self.write(")")

    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        if not isinstance(node.arg, nodes.Slice):
            return super().visit_Getitem(node, frame)
        self.write("environment.ticked(")
        self.visit(node.node, frame)
        self.write(")[")
        self.visit(node.arg, frame)
        self.write("]")
        return None

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._bounded(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._bounded(super().visit_Dict, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":
            return super().visit_Tuple(node, frame)
        return self._bounded(super().visit_Tuple, node, frame)

    def _bounded(self, visit: Any, node: nodes.Node, frame: Frame) -> None:
        self.write("environment.bounded(")
        visit(node, frame)
        self.write(")")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """An immutable sandbox (no `list.append`...) whose templates do bounded work."""

    intercepted_binops = ARITHMETIC
    code_generator_class = BoundedCodeGenerator

    def __init__(self, **options: Any) -> None:
        super().__init__(optimized=False, finalize=_written, **options)
        self.globals.pop("lipsum", None)
        self.filters = {
            name: _bounded_filter(name, function)
            for name, function in self.filters.items()
            if name not in NOT_OFFERED
        }
        self.tests = {name: _ticked(function) for name, function in self.tests.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        limit = tick()
        check_binop(operator, left, right, limit)
        return bounded(super().call_binop(context, operator, left, right), limit)

    def call(self, context: Context, function: Any, /, *args: Any, **kwargs: Any) -> Any:
        limit = tick()
        name, owner = getattr(function, "__name__", ""), getattr(function, "__self__", None)
        if isinstance(owner, str | bytes | int) and name in METHODS:
            refuse_over(METHODS[name](limit, owner, *args, **kwargs), limit, f"`{name}`")
        elif isinstance(owner, str | bytes) and name == "join" and args:
            args = (bounded_list(args[0], limit, len(owner)), *args[1:])
        return bounded(super().call(context, function, *args, **kwargs), limit)

    def wrap_str_format(self, value: Any) -> Any:
        formatted = super().wrap_str_format(value)
        if formatted is None:
            return None
        template, by_name = value.__self__, value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> Any:
            limit = tick()
            values = [*args, *kwargs.values()]
            if by_name and args and isinstance(args[0], Mapping):
                values = list(args[0].values())
            refuse_over(format_size(template, values, limit), limit, "a formatted text")
            return bounded(formatted(*args, **kwargs), limit)

        return update_wrapper(checked, value)

    # Called by the code BoundedCodeGenerator writes:

    def iterate(self) -> None:
        spent = _BUDGET.get()
        if spent is not None:
            spent.iterations -= 1
            if spent.iterations < 0:
                raise BudgetExceeded(f"over {spent.limits.loop_iterations:,} loop iterations")
        tick()

    def spend(self, characters: int) -> None:
        _spend_output(characters)

    def ticked(self, value: Any) -> Any:
        tick()
        return value

    def bounded(self, value: Any) -> Any:
        return bounded(value, tick())

    def concatenate(self, autoescape: bool, parts: tuple[Any, ...]) -> str:
        limit = tick()
        refuse_over(sum(weight(part, limit) for part in parts), limit, "a `~` concatenation")
        return markup_join(parts) if autoescape else str_join(parts)


def refuse_many_tokens(environment: BoundedEnvironment, source: str, most: int) -> None:
    """BudgetExceeded if `source` has more than `most` tokens (lexed until there are)."""
    tokens = (kind for _, kind, _ in environment.lex(source) if kind != "whitespace")
    for count, _ in enumerate(tokens, 1):
        if count > most:
            raise BudgetExceeded(f"more than {most:,} tokens")


def refuse_large_constants(environment: BoundedEnvironment, tree: nodes.Template) -> None:
    """BudgetExceeded if arithmetic on constants alone (`(2**64)**(2**22)`) would make a
    value over the limits; numbers are computed (each bounded), texts only estimated."""
    known: dict[int, Any] = {}
    for node in tree.find_all(nodes.BinExpr):
        _constant(environment, node, known)


_UNKNOWN = object()


def _constant(environment: BoundedEnvironment, node: nodes.Node, known: dict[int, Any]) -> Any:
    if isinstance(node, nodes.Const):
        return node.value
    if not isinstance(node, nodes.BinExpr) or node.operator not in ARITHMETIC:
        return _UNKNOWN
    if id(node) not in known:
        left = _constant(environment, node.left, known)
        right = _constant(environment, node.right, known)
        known[id(node)] = _UNKNOWN
        if left is not _UNKNOWN and right is not _UNKNOWN:
            check_binop(node.operator, left, right, DEFAULT_LIMITS.output_chars)
            if isinstance(left, int | float) and isinstance(right, int | float):
                try:
                    known[id(node)] = environment.binop_table[node.operator](left, right)
                except ArithmeticError:
                    pass
    return known[id(node)]
