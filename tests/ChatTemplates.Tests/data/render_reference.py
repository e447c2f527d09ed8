#!/usr/bin/env python3
"""Writes expected.json: what real jinja2 renders, configured as Hugging Face's apply_chat_template configures it.

    python3 tests/ChatTemplates.Tests/data/render_reference.py        (needs jinja2 3.1.x; no transformers)

It reads templates.json and templates/*.jinja beside it (the real chat templates, provenance in README.md) and
renders every template x conversation x add_generation_prompt, plus the language snippets below, the way
transformers' render_jinja_template does:

  * jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
    extensions=[jinja2.ext.loopcontrols]);
  * filter tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) = json.dumps(...) with those
    arguments; globals raise_exception(message) (raises jinja2.exceptions.TemplateError) and strftime_now(format);
  * template.render(messages=..., tools=..., documents=..., add_generation_prompt=..., **special tokens, **extra),
    with tools and documents None unless given and only the special tokens that are set.

One deliberate difference: strftime_now reads a fixed clock (FIXED_NOW) instead of datetime.now(), so that the
expectations do not depend on the day they were generated; the C# tests give the renderer the same clock.

The output is deterministic: rerunning it without changes rewrites expected.json identically. The C# tests
(ChatTemplates.Tests) read only the committed files; they do not need Python.
"""
import datetime
import json
import os

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
FIXED_NOW = datetime.datetime(2025, 3, 14, 15, 9, 26)


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_env()


def render(source, variables):
    """{"output": text} or {"error": exception type, "message": text}."""
    try:
        return {"output": ENV.from_string(source).render(**variables)}
    except Exception as e:  # the renderer must fail too; raise_exception's message must match exactly
        return {"error": type(e).__name__, "message": str(e)}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}

DATE = {"date_string": "02 Jan 2025"}

# name -> (messages, tools, extra variables)
CONVERSATIONS = {
    "system_user": ([
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
    ], None, DATE),
    "user_only": ([
        {"role": "user", "content": "Hello!"},
    ], None, DATE),
    "multi_turn": ([
        {"role": "user", "content": "Hi, who are you?"},
        {"role": "assistant", "content": "I am a language model."},
        {"role": "user", "content": "Tell me a joke."},
    ], None, DATE),
    "system_multi_turn": ([
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "2 + 2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3 + 3?"},
    ], None, DATE),
    "ends_with_assistant": ([
        {"role": "user", "content": "Say yes."},
        {"role": "assistant", "content": "Yes."},
    ], None, DATE),
    "whitespace": ([
        {"role": "system", "content": "  \n Be concise. \n\n"},
        {"role": "user", "content": "\n\tLine one\n  line two  \n"},
        {"role": "assistant", "content": " Sure! \n"},
        {"role": "user", "content": "   "},
    ], None, DATE),
    "non_ascii": ([
        {"role": "user", "content": "Grüße aus Köln — 你好, мир! 🦙 ‘quotes’ \"double\" \\backslash"},
        {"role": "assistant", "content": "こんにちは 😊\u2028é"},
        {"role": "user", "content": "Ça va? 👍🏽"},
    ], None, DATE),
    "bad_alternation": ([
        {"role": "user", "content": "First."},
        {"role": "user", "content": "Second."},
    ], None, DATE),
    "starts_with_assistant": ([
        {"role": "assistant", "content": "Hello, I start."},
        {"role": "user", "content": "Fine."},
    ], None, DATE),
    "no_date_string": ([
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What day is it?"},
    ], None, {}),
    "tools": ([
        {"role": "system", "content": "You can call tools."},
        {"role": "user", "content": "What's the weather in Paris?"},
    ], [WEATHER_TOOL], DATE),
    "tool_calls": ([
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call12345", "type": "function", "function": {
            "name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
        {"role": "tool", "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}", "tool_call_id": "call12345"},
    ], [WEATHER_TOOL], DATE),
    "thinking": ([
        {"role": "user", "content": "Think, then answer: 6 * 7?"},
        {"role": "assistant", "content": "<think>\nSix sevens.\n</think>\n\n42"},
        {"role": "user", "content": "Thanks."},
    ], None, {"enable_thinking": False}),
}

# Small templates for the language subset: (name, template, variables).
SNIPPETS = [
    # whitespace: trim_blocks, lstrip_blocks, '-' and '+'
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter", {}),
    ("lstrip_blocks", "a\n    {% if true %}\n    b\n    {% endif %}\nc", {}),
    ("lstrip_not_after_text", "x {% if true %}y{% endif %}", {}),
    ("strip_minus_left", "a   \n  {{- 'b' }}", {}),
    ("strip_minus_right", "{{ 'a' -}}   \n  b", {}),
    ("strip_block_both", "a\n  {%- if true -%}\n  b\n  {%- endif -%}\n  c", {}),
    ("plus_disables_lstrip", "a\n    {%+ if true %}b{% endif %}", {}),
    ("plus_disables_trim", "{% if true +%}\nb{% endif %}", {}),
    ("comment_trim", "a\n  {# comment #}\nb{#- c -#}  c", {}),
    ("variable_no_trim", "{{ 'a' }}\nb", {}),
    ("trailing_newline_dropped", "text\n", {}),
    ("trailing_newlines_one_dropped", "text\n\n", {}),
    ("crlf_normalised", "a\r\nb{% if true %}\r\nc{% endif %}", {}),
    ("raw_block", "{% raw %}{{ not evaluated }}{% endraw %}", {}),
    ("lstrip_at_start", "   {% if true %}x{% endif %}", {}),
    ("lstrip_after_trimmed_newline", "{% if true %}\n   {% if true %}x{% endif %}{% endif %}", {}),
    # literals and printing
    ("print_none_bool", "{{ none }} {{ None }} {{ true }} {{ False }}", {}),
    ("print_numbers", "{{ 1 }} {{ -3 }} {{ 1.0 }} {{ 2.5e3 }} {{ 1e16 }} {{ 1e-5 }} {{ 0.1 + 0.2 }} {{ 1_000 }}", {}),
    ("print_list_dict", "{{ [1, 'a', none, true, 1.5, {'k': \"it's\"}] }} {{ {'a': [1, 2], 1: 'x'} }}", {}),
    ("print_tuple", "{{ (1, 'a') }} {{ (1,) }} {{ () }}", {}),
    ("string_escapes", "{{ 'a\\tb\\nc\\\\d\\'e\\u00e9\\x41' }}|{{ \"q\\\"q\" }}|{{ 'unknown\\d' }}", {}),
    ("string_adjacent", "{{ 'a' 'b' \"c\" }}", {}),
    ("repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\t', 'é'] }}", {}),
    # arithmetic and operators
    ("arithmetic", "{{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 4 / 2 }}", {}),
    ("float_arithmetic", "{{ 1.5 + 1 }} {{ 7.0 // 2 }} {{ -7.5 % 2 }} {{ 2 ** -1 }} {{ 10 / 3 }}", {}),
    ("string_ops", "{{ 'ab' + 'cd' }} {{ 'ab' * 3 }} {{ 2 * 'x' }} {{ 'n' ~ 1 ~ none ~ true }} {{ [1] + [2] }} {{ [0] * 3 }}", {}),
    ("comparisons", "{{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] == [1, 2] }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 5 }} {{ 'a' != 'a' }} {{ true == 1 }} {{ none == none }}", {}),
    ("logic", "{{ true and 'x' }} {{ 0 or 'y' }} {{ not 0 }} {{ '' or [] }} {{ none and 1 }} {{ not 'a' in 'abc' }}", {}),
    ("in_operator", "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }} {{ 'x' in undefined_thing }}", {}),
    ("conditional_expression", "{{ 'yes' if 1 else 'no' }} {{ 'yes' if 0 else 'no' }} [{{ 'only' if false }}]", {}),
    ("precedence_filter_binds_tighter", "{{ 'a ' + ' b ' | trim + ' c' }}|{{ -2 | abs }}|{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 2 ** 3 ** 2 }}", {}),
    ("precedence_not_test", "{{ not x is defined }} {{ not 1 == 2 }}", {}),
    ("truthiness", "{% for v in [0, 1, '', 'a', [], [0], {}, none, 0.0] %}{{ 'T' if v else 'F' }}{% endfor %}", {}),
    # variables, attributes, items
    ("attribute_and_item", "{{ m.role }} {{ m['content'] }} {{ m.missing }}|{{ m['missing'] }}|{{ l[0] }} {{ l[-1] }} [{{ l[10] }}]", {"m": {"role": "user", "content": "hi"}, "l": [1, 2, 3]}),
    ("slicing", "{{ l[1:] }} {{ l[:2] }} {{ l[::-1] }} {{ l[-2:] }} {{ l[::2] }} {{ l[5:] }} {{ s[1:3] }} {{ s[::-1] }} {{ s[-1] }}", {"l": [1, 2, 3, 4], "s": "héllo"}),
    ("undefined_prints_empty", "[{{ nothing }}][{{ nothing | default('d') }}][{{ nothing is defined }}][{{ nothing | length }}]", {}),
    ("undefined_attribute_raises", "{{ nothing.attr }}", {}),
    ("undefined_add_raises", "{{ nothing + 'x' }}", {}),
    ("missing_key_attribute_raises", "{{ m.missing.deeper }}", {"m": {}}),
    ("none_variable", "{{ v }} {{ v is none }} {{ v is defined }}", {"v": None}),
    # statements
    ("for_loop_vars", "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ x }};{% endfor %}", {}),
    ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}", {}),
    ("for_unpack_items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k, v in d | items %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("for_over_dict_and_string", "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'héy' %}[{{ c }}]{% endfor %}", {"d": {"x": 1, "y": 2}}),
    ("for_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ ',' if not loop.last }}{% endfor %}", {}),
    ("for_break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("for_previtem_nextitem_cycle", "{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('a', 'b') }};{% endfor %}", {}),
    ("nested_loops", "{% for a in [1, 2] %}{% for b in ['x', 'y'] %}{{ a }}{{ b }}{{ loop.index }}{% endfor %};{% endfor %}", {}),
    ("if_elif_else", "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %} {% endfor %}", {}),
    ("set_scoping_loop", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}|{{ x }}", {}),
    ("set_scoping_if", "{% if true %}{% set y = 'set in if' %}{% endif %}{{ y }}", {}),
    ("set_per_iteration", "{% for i in [1, 2] %}[{{ z }}]{% set z = i %}{% endfor %}", {}),
    ("namespace", "{% set ns = namespace(count=0, found=false) %}{% for i in [1, 2, 3] %}{% set ns.count = ns.count + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}", {}),
    ("namespace_empty_then_set", "{% set ns = namespace() %}{% set ns.index = 0 %}{% set ns.index = ns.index + 1 %}{{ ns.index }}", {}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 3, 4 %}{{ t }}", {}),
    ("set_block", "{% set block %}  inner {{ 1 + 1 }}  {% endset %}[{{ block }}]", {}),
    ("macro", "{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', '?') }} {{ greet(name='Cy', punct='.') }}", {}),
    ("filter_block", "{% filter upper %}shout {{ 'this' }}{% endfilter %}", {}),
    ("raise_exception", "{% if true %}{{ raise_exception('Custom failure: ' ~ 42) }}{% endif %}", {}),
    ("loop_outer_variable", "{% set messages = messages[1:] %}{% for m in messages %}{{ m }}{% endfor %}", {"messages": ["a", "b", "c"]}),
    ("range", "{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(5, 0, -2) | list }}", {}),
    # tests
    ("tests", "{{ 'a' is string }} {{ 1 is string }} {{ {} is mapping }} {{ [] is mapping }} {{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ x is iterable }} {{ 1 is number }} {{ 1 is integer }} {{ 1.0 is float }} {{ none is none }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 'a' is equalto 'a' }} {{ 'x' is in 'xyz' }} {{ true is boolean }} {{ true is true }} {{ 1 is sameas 1 }} {{ 'abc' is lower }} {{ 'ABC' is upper }}", {}),
    ("test_not", "{{ x is not defined }} {{ none is not none }} {{ 1 is not string }}", {}),
    # filters
    ("filter_trim_length", "[{{ '  a b \\n' | trim }}][{{ 'xxhixx' | trim('x') }}] {{ 'héllo' | length }} {{ [1, 2] | length }} {{ {'a': 1} | count }}", {}),
    ("filter_case", "{{ 'hello WORLD' | upper }} {{ 'Hello' | lower }} {{ 'hELLO wORLD' | capitalize }} {{ \"they're bill's-friends (from [the] uk)\" | title }}", {}),
    ("filter_default", "{{ missing | default('dflt') }} {{ '' | default('empty') }} {{ '' | default('empty', true) }} {{ none | default('n') }} {{ missing | d('short') }}", {}),
    ("filter_join", "{{ [1, 2, 3] | join(', ') }} {{ ['a', 'b'] | join }} {{ [{'n': 'x'}, {'n': 'y'}] | join('-', attribute='n') }} {{ [none, true] | join('/') }}", {}),
    ("filter_replace", "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 'abc' | replace('', '-') }}", {}),
    ("filter_first_last_list", "{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | first }} {{ 'abc' | list }} {{ {'a': 1, 'b': 2} | list }} [{{ [] | first }}]", {}),
    ("filter_string_int_float", "{{ 12 | string }}{{ none | string }} {{ '42' | int + 1 }} {{ '3.9' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.99 | int }} {{ true | int }} {{ '2.5' | float }} {{ 3 | float }}", {}),
    ("filter_items", "{% for k, v in {'x': 1, 'y': [2]} | items %}{{ k }}:{{ v }} {% endfor %}", {}),
    ("filter_tojson", "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ [] | tojson(indent=4) }}|{{ {} | tojson(indent=4) }}|{{ 'é\"\\n\\u0001\\u2028' | tojson }}|{{ [1.0, 1e20, -0.5, true, none] | tojson }}", {"d": {"name": "Zoë", "list": [1, 2.5, None, True], "nested": {"x": "y"}, "empty": []}}),
    ("filter_tojson_options", "{{ d | tojson(sort_keys=true) }}|{{ d | tojson(separators=(',', ':')) }}|{{ d | tojson(ensure_ascii=true) }}|{{ d | tojson(indent='\\t') }}", {"d": {"b": "ß", "a": [1, {"c": 2}]}}),
    ("filter_select_reject", "{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('odd') | list }} {{ ['code_interpreter', 'brave_search', 'wolfram'] | reject('equalto', 'code_interpreter') | join(', ') }} {{ [0, 1, '', 'a'] | select | list }}", {}),
    ("filter_selectattr_map", "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }} {{ msgs | rejectattr('role', 'equalto', 'user') | list | length }} {{ ['a', 'b'] | map('upper') | list }}", {"msgs": [{"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}]}),
    ("filter_misc", "{{ [3, 1, 2] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ 'abc' | reverse }} {{ [1, 2] | reverse | list }} {{ [1, 2, 1] | unique | list }} {{ [4, 9, 2] | max }} {{ [4, 9, 2] | min }} {{ [1, 2, 3] | sum }} {{ -5 | abs }} {{ 2.5 | round }} {{ 3.14159 | round(2) }} {{ 'a<b>&\"c\\'' | e }}", {}),
    ("filter_indent", "{{ 'line1\\nline2\\n\\nline4' | indent(2) }}|{{ 'a\\nb' | indent(4, true) }}|{{ 'x\\n\\ny' | indent(2, blank=true) }}", {}),
    ("filter_format_percent", "{{ '%s and %d' | format('x', 3) }} {{ '%s!' % 'hi' }} {{ '%s-%s' % (1, 2) }}", {}),
    ("filter_dictsort", "{% for k, v in {'b': 2, 'a': 1, 'C': 3} | dictsort %}{{ k }}{{ v }}{% endfor %}", {}),
    # string methods
    ("string_methods", "[{{ '  x  '.strip() }}][{{ '  x  '.lstrip() }}][{{ '  x  '.rstrip() }}][{{ '\\n\\nx\\n'.strip('\\n') }}] {{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'a b  c'.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'Ab'.upper() }}{{ 'Ab'.lower() }} {{ 'aXa'.replace('a', 'b') }} {{ \"they're bill's\".title() }} {{ 'hello world'.capitalize() }} {{ 'abcabc'.find('c') }} {{ 'abcabc'.count('bc') }} {{ '-'.join(['a', 'b']) }}", {}),
    ("string_split_think", "{% set c = '<think>\\nreason\\n</think>\\n\\nanswer' %}[{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}][{{ c.split('</think>')[-1].lstrip('\\n') }}]", {}),
    ("dict_methods", "{{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }} {{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 'fallback') }}", {"d": {"a": 1, "b": "two"}}),
    ("unicode_strings", "{{ s | length }} {{ s[0] }} {{ s[-1] }} {{ s | upper }} {{ s | reverse }} {{ s.split(' ') }}", {"s": "ça 🦙 va"}),
    ("non_ascii_repr", "{{ ['é', '🦙', 'a\\u200bb', '\\x7f'] }}", {}),
    ("strftime_now", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %j %p %I %y %a %%') }}", {}),
    ("large_and_negative_numbers", "{{ 2 ** 62 }} {{ -2 ** 2 }} {{ (-2) ** 2 }} {{ 10 // -3 }} {{ 10 % -3 }} {{ 1e300 * 10 }} {{ 123456789.123456789 }} {{ 0.000123 }} {{ 1234567890123456.0 }} {{ 12345678901234567.0 }}", {}),
    # errors
    ("error_unknown_filter", "{{ 1 | no_such_filter }}", {}),
    ("error_unknown_test", "{{ 1 is no_such_test }}", {}),
    ("error_type_add", "{{ 1 + 'a' }}", {}),
    ("error_division_by_zero", "{{ 1 / 0 }}", {}),
    ("error_call_non_callable", "{{ 'a'() }}", {}),
    ("error_unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("error_tojson_undefined", "{{ nothing | tojson }}", {}),
    ("error_range_too_big", "{{ range(1000000) | length }}", {}),
    ("error_mutation", "{{ l.append(3) }}", {"l": [1, 2]}),
]


def main():
    manifest = json.load(open(os.path.join(HERE, "templates.json"), encoding="utf-8"))
    template_cases = []
    for t in manifest:
        source = open(os.path.join(HERE, "templates", t["name"] + ".jinja"), encoding="utf-8", newline="").read()
        tokens = {k: t[k] for k in ("bos_token", "eos_token", "unk_token", "pad_token") if t.get(k) is not None}
        for conv, (messages, tools, extra) in CONVERSATIONS.items():
            for agp in (False, True):
                variables = dict(messages=messages, tools=tools, documents=None, add_generation_prompt=agp, **tokens, **extra)
                template_cases.append({"template": t["name"], "conversation": conv, "add_generation_prompt": agp,
                                       **render(source, variables)})
    snippet_cases = [{"name": name, "template": source, "variables": variables, **render(source, variables)}
                     for name, source, variables in SNIPPETS]
    out = {
        "generator": "render_reference.py with jinja2 " + jinja2.__version__,
        "fixed_now": FIXED_NOW.isoformat(),
        "conversations": {name: {"messages": m, "tools": tools, "variables": extra} for name, (m, tools, extra) in CONVERSATIONS.items()},
        "template_cases": template_cases,
        "snippet_cases": snippet_cases,
    }
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    errors = sum("error" in c for c in template_cases)
    print(f"{len(template_cases)} template cases ({errors} raise), {len(snippet_cases)} snippets -> expected.json")


if __name__ == "__main__":
    main()
