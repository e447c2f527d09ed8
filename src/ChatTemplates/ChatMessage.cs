using MlPipelines.ChatTemplates.Runtime;

namespace MlPipelines.ChatTemplates;

/// <summary>
/// One message of a conversation, as Hugging Face passes it to a chat template: a dictionary with <c>role</c> and
/// <c>content</c>, plus any <see cref="Extra"/> fields (for example <c>tool_calls</c>, <c>name</c>,
/// <c>tool_call_id</c>) that some templates read.
/// </summary>
/// <param name="Role">The role: <c>system</c>, <c>user</c>, <c>assistant</c>, <c>tool</c>, ...</param>
/// <param name="Content">The text (null becomes the template's <c>none</c>).</param>
public sealed record ChatMessage(string Role, string? Content)
{
    /// <summary>
    /// Further fields of the message dictionary, after <c>role</c> and <c>content</c> and in this order: strings,
    /// numbers, booleans, dictionaries, lists or JSON (<see cref="System.Text.Json.JsonElement"/>,
    /// <see cref="System.Text.Json.Nodes.JsonNode"/>).
    /// </summary>
    public IReadOnlyDictionary<string, object?>? Extra { get; init; }

    /// <summary>A system message.</summary>
    public static ChatMessage System(string content) => new("system", content);

    /// <summary>A user message.</summary>
    public static ChatMessage User(string content) => new("user", content);

    /// <summary>An assistant message.</summary>
    public static ChatMessage Assistant(string content) => new("assistant", content);

    internal PyDict ToDictionary(int depth)
    {
        var dict = new PyDict();
        dict.Set("role", Role);
        dict.Set("content", Content);
        if (Extra != null)
            foreach (var (key, value) in Extra)
                dict.Set(key, ValueConverter.FromDotNet(value, depth + 1));
        return dict;
    }
}
