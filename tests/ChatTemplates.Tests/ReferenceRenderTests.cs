using System.Text.Json;

namespace MlPipelines.ChatTemplates.Tests;

/// <summary>
/// Every real template x conversation x add_generation_prompt, and every language snippet, renders byte for byte as
/// jinja2 renders it in Hugging Face's configuration (data/render_reference.py wrote data/expected.json).
/// </summary>
public class ReferenceRenderTests
{
    public static TheoryData<string, string, bool> TemplateCases()
    {
        var data = new TheoryData<string, string, bool>();
        foreach (var c in ReferenceData.TemplateCases)
            data.Add(c.GetProperty("template").GetString()!, c.GetProperty("conversation").GetString()!, c.GetProperty("add_generation_prompt").GetBoolean());
        return data;
    }

    public static TheoryData<string> SnippetCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in ReferenceData.SnippetCases) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    private static string? Token(JsonElement entry, string name) =>
        entry.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>A conversation's messages as the public API takes them: role, content, the other fields in Extra.</summary>
    internal static List<ChatMessage> Messages(JsonElement conversation) =>
        conversation.GetProperty("messages").EnumerateArray().Select(m =>
        {
            var extra = m.EnumerateObject().Where(p => p.Name is not "role" and not "content")
                .ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
            var content = m.GetProperty("content");
            return new ChatMessage(m.GetProperty("role").GetString()!, content.ValueKind == JsonValueKind.Null ? null : content.GetString())
            {
                Extra = extra.Count > 0 ? extra : null,
            };
        }).ToList();

    [Theory]
    [MemberData(nameof(TemplateCases))]
    public void Real_template_renders_as_jinja2(string template, string conversation, bool addGenerationPrompt)
    {
        var expected = ReferenceData.TemplateCases.Single(c => c.GetProperty("template").GetString() == template
            && c.GetProperty("conversation").GetString() == conversation && c.GetProperty("add_generation_prompt").GetBoolean() == addGenerationPrompt);
        var entry = ReferenceData.TemplateEntry(template);
        var conv = ReferenceData.Conversation(conversation);
        var tools = conv.GetProperty("tools");
        var context = new ChatTemplateContext
        {
            AddGenerationPrompt = addGenerationPrompt,
            BosToken = Token(entry, "bos_token"),
            EosToken = Token(entry, "eos_token"),
            UnkToken = Token(entry, "unk_token"),
            PadToken = Token(entry, "pad_token"),
            Tools = tools.ValueKind == JsonValueKind.Null ? null : tools.Clone(),
            Variables = conv.GetProperty("variables").EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone()),
            TimeProvider = ReferenceData.FixedClock,
        };
        var chat = ChatTemplate.Parse(ReferenceData.TemplateSource(template));
        AssertSameOutcome(expected, () => chat.Render(Messages(conv), context));
    }

    [Theory]
    [MemberData(nameof(SnippetCases))]
    public void Snippet_renders_as_jinja2(string name)
    {
        var expected = ReferenceData.SnippetCases.Single(c => c.GetProperty("name").GetString() == name);
        var variables = expected.GetProperty("variables").EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        string source = expected.GetProperty("template").GetString()!;
        AssertSameOutcome(expected, () => ChatTemplate.Parse(source).Render(variables, ReferenceData.FixedClock));
    }

    private static void AssertSameOutcome(JsonElement expected, Func<string> render)
    {
        if (expected.TryGetProperty("output", out var output))
        {
            Assert.Equal(output.GetString(), render());
            return;
        }
        var e = Assert.Throws<ChatTemplateException>(render);
        if (expected.GetProperty("error").GetString() == "TemplateError")
        {
            // The template's own raise_exception: the message must be the template's, exactly.
            Assert.True(e.RaisedByTemplate, e.Message);
            Assert.Equal(expected.GetProperty("message").GetString(), e.Message);
        }
    }
}
