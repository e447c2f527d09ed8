using System.Text.Json.Nodes;

namespace MlPipelines.ChatTemplates.Tests;

/// <summary>The public API, the error reports, and hostile input (which must fail cleanly, never crash the process).</summary>
public class LanguageTests
{
    private static string Render(string template, Dictionary<string, object?>? variables = null) =>
        ChatTemplate.Parse(template).Render(variables ?? []);

    [Fact]
    public void Renders_a_conversation_through_the_public_api()
    {
        var chat = ChatTemplate.Parse(ReferenceData.TemplateSource("llama3-instruct"));
        string text = chat.Render([ChatMessage.System("Be brief."), ChatMessage.User("Hi ")],
            new ChatTemplateContext { AddGenerationPrompt = true, BosToken = "<|begin_of_text|>", EosToken = "<|eot_id|>" });
        Assert.Equal("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", text);
    }

    [Fact]
    public void Extra_message_fields_and_json_tools_reach_the_template()
    {
        var chat = ChatTemplate.Parse(
            "{% for m in messages %}{{ m.role }}:{{ m.name | default('-') }};{% endfor %}{{ tools | tojson }}|{{ documents }}|{{ date_string }}");
        var tools = JsonNode.Parse("""[{"type": "function", "function": {"name": "f", "weight": 1.0}}]""");
        string text = chat.Render(
            [ChatMessage.User("x"), new ChatMessage("tool", null) { Extra = new Dictionary<string, object?> { ["name"] = "calc" } }],
            new ChatTemplateContext { Tools = tools, Variables = new Dictionary<string, object?> { ["date_string"] = "01 Feb 2025" } });
        Assert.Equal("user:-;tool:calc;[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"weight\": 1.0}}]|None|01 Feb 2025", text);
    }

    [Fact]
    public void A_template_that_raises_gives_its_own_message()
    {
        var chat = ChatTemplate.Parse(ReferenceData.TemplateSource("llama2-chat"));
        var e = Assert.Throws<ChatTemplateException>(() => chat.Render([ChatMessage.User("a"), ChatMessage.User("b")],
            new ChatTemplateContext { BosToken = "<s>", EosToken = "</s>" }));
        Assert.True(e.RaisedByTemplate);
        Assert.Equal("Conversation roles must alternate user/assistant/user/assistant/...", e.Message);
        Assert.Equal(e.Message, e.Reason);
    }

    [Fact]
    public void Hugging_Face_generation_blocks_render_their_body()
    {
        Assert.Equal("a kept b", Render("a {% generation %}kept{% endgeneration %} b"));
    }

    [Fact]
    public void Strftime_now_reads_the_local_clock_by_default()
    {
        string before = DateTime.Now.ToString("dd MMM yyyy", System.Globalization.CultureInfo.InvariantCulture);
        string text = Render("{{ strftime_now('%d %b %Y') }}");
        string after = DateTime.Now.ToString("dd MMM yyyy", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(text, new[] { before, after });
    }

    [Theory]
    [InlineData("{{ -(1) }} {{ -1.5 }} {{ -true }} {{ +2 }}", "-1 -1.5 -1 2")]
    [InlineData("{{ [1, 2, 3][1:] | length }}", "2")]
    [InlineData("{{ {'a': 1}['a'] }}{{ {'a': 1}.a }}", "11")]
    public void Small_expressions(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("line one\n{% if %}", 2, 7)]
    [InlineData("{{ 1 + }}", 1, 8)]
    [InlineData("ok\n\n  {{ 'unterminated }}", 3, 6)]
    [InlineData("{% for x in y %}no end", 1, 23)]
    [InlineData("{# never closed", 1, 1)]
    [InlineData("{{ x ]] }}", 1, 6)]
    [InlineData("{% endif %}", 1, 4)]
    [InlineData("{% include 'other.jinja' %}", 1, 4)]
    [InlineData("{{ a.b( }}", 1, 9)]
    public void Syntax_errors_name_the_line_and_column(string template, int line, int column)
    {
        var e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(template));
        Assert.False(e.RaisedByTemplate);
        Assert.Equal((line, column), (e.Line, e.Column));
        Assert.StartsWith($"line {line}, column {column}: ", e.Message);
    }

    [Fact]
    public void Render_errors_name_the_statement()
    {
        var e = Assert.Throws<ChatTemplateException>(() => Render("fine\n{% if true %}\n  {{ 1 + 'a' }}{% endif %}"));
        Assert.Equal(3, e.Line);
        Assert.Contains("unsupported operand type(s) for +: 'int' and 'str'", e.Message);
    }

    [Fact]
    public void Deeply_nested_expressions_fail_cleanly()
    {
        string deep = "{{ " + new string('(', 100_000) + "1" + new string(')', 100_000) + " }}";
        Assert.Contains("nests deeper", Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(deep)).Message);
        string unary = "{{ " + string.Concat(Enumerable.Repeat("not ", 100_000)) + "1 }}";
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(unary));
        string lists = "{{ " + new string('[', 50_000) + new string(']', 50_000) + " }}";
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(lists));
    }

    [Fact]
    public void Deeply_nested_blocks_fail_cleanly()
    {
        string deep = string.Concat(Enumerable.Repeat("{% if true %}", 50_000)) + string.Concat(Enumerable.Repeat("{% endif %}", 50_000));
        Assert.Contains("nests deeper", Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(deep)).Message);
    }

    [Fact]
    public void Runaway_recursion_and_huge_values_fail_cleanly()
    {
        Assert.Contains("macro calls nest deeper",
            Assert.Throws<ChatTemplateException>(() => Render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")).Message);
        Assert.Throws<ChatTemplateException>(() => Render("{{ 'a' * 1000000000 }}"));
        Assert.Throws<ChatTemplateException>(() => Render("{{ [1] * 1000000000 }}"));
        Assert.Throws<ChatTemplateException>(() => Render("{{ range(100000000) | length }}"));
        Assert.Throws<ChatTemplateException>(() => Render("{{ 2 ** 100 }}"));
        Assert.Throws<ChatTemplateException>(() => Render("{% set s = 'x' * 10000000 %}{% for i in range(100) %}{{ s }}{% endfor %}"));
    }

    [Fact]
    public void A_render_has_a_budget_of_work_that_real_templates_stay_far_below()
    {
        // Three nested loops: a billion iterations in Jinja; stopped after the budget's 100,000.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Contains("loop iterations and macro calls", Assert.Throws<ChatTemplateException>(() =>
            Render("{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}x{% endfor %}{% endfor %}{% endfor %}")).Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        // Macros that call themselves twice: 2^100 calls within the depth limit.
        Assert.Contains("loop iterations and macro calls", Assert.Throws<ChatTemplateException>(() =>
            Render("{% macro f(n) %}{% if n < 90 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}")).Message);
        // A loop building a long string each time round, and a replace that multiplies a string's length.
        Assert.Contains("characters of text", Assert.Throws<ChatTemplateException>(() =>
            Render("{% for i in range(1000) %}{% set s = 'x' * 1000000 %}{% endfor %}")).Message);
        Assert.Throws<ChatTemplateException>(() => Render("{{ ('x' * 100000) | replace('x', 'y' * 100000) }}"));
        // Within the budget: 100,000 iterations, and a long conversation's worth of text.
        Assert.Equal(100000, Render("{% for i in range(100000) %}x{% endfor %}").Length);
        Assert.Equal(10_000_000, Render("{% for i in range(10) %}{{ 'y' * 1000000 }}{% endfor %}").Length);
    }

    [Fact]
    public void Undefined_values_behave_as_jinja_default_undefined()
    {
        Assert.Equal("[][False][0][]", Render("[{{ nope }}][{{ nope is defined }}][{{ nope | length }}][{% for x in nope %}x{% endfor %}]"));
        var e = Assert.Throws<ChatTemplateException>(() => Render("{{ nope.attr }}"));
        Assert.Contains("'nope' is undefined", e.Message);
    }

    [Fact]
    public void Unsupported_variable_types_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Render("{{ x }}", new() { ["x"] = new Uri("http://example.com") }));
    }

    [Fact]
    public void Arguments_are_checked()
    {
        Assert.Throws<ArgumentNullException>(() => ChatTemplate.Parse(null!));
        Assert.Throws<ArgumentNullException>(() => ChatTemplate.Parse("x").Render((IReadOnlyList<ChatMessage>)null!));
    }
}
