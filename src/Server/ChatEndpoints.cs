using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;
using MlPipelines.AI;

namespace MlPipelines.Server;

/// <summary>
/// <c>/v1/chat/completions</c> and <c>/v1/completions</c> over an <see cref="IChatClient"/>: the request becomes messages and
/// <see cref="ChatOptions"/>, the client's updates become OpenAI's JSON (or server-sent events when <c>stream</c> is set).
/// </summary>
internal sealed class ChatEndpoints(IChatClient client, string modelId)
{
    /// <summary>Reads a chat request; every problem is an <see cref="ApiError"/>.</summary>
    public Reply ReadChat(RequestFields fields)
    {
        fields.CheckModel(modelId);
        List<ChatMessage> messages = ReadMessages(fields);
        return new Reply(messages, fields.ChatOptions(modelId), fields.Bool("stream"), IncludeUsage(fields), Chat: true);
    }

    /// <summary>Reads a completion request: one prompt string, continued as plain text (no chat template).</summary>
    public Reply ReadCompletion(RequestFields fields)
    {
        fields.CheckModel(modelId);
        List<string> prompts = fields.Strings("prompt") ?? throw ApiError.BadRequest("'prompt' is required.", "prompt");
        if (prompts.Count != 1)
            throw ApiError.BadRequest($"'prompt' holds {prompts.Count} prompts; this server completes one prompt per request.", "prompt");
        if (prompts[0].Length == 0) throw ApiError.BadRequest("'prompt' is empty.", "prompt");
        ChatOptions options = fields.ChatOptions(modelId);
        options.AdditionalProperties = new() { [LlamaChatClient.PlainTextPromptKey] = true };
        return new Reply([new ChatMessage(ChatRole.User, prompts[0])], options, fields.Bool("stream"), IncludeUsage(fields), Chat: false);
    }

    private static bool IncludeUsage(RequestFields fields) =>
        fields.Root.TryGetProperty("stream_options", out JsonElement s) && s.ValueKind == JsonValueKind.Object
        && new RequestFields(s).Bool("include_usage");

    private static List<ChatMessage> ReadMessages(RequestFields fields)
    {
        if (!fields.Root.TryGetProperty("messages", out JsonElement array) || array.ValueKind != JsonValueKind.Array)
            throw ApiError.BadRequest("'messages' is required: an array of {\"role\", \"content\"} objects.", "messages");
        var messages = new List<ChatMessage>();
        int index = 0;
        foreach (JsonElement item in array.EnumerateArray())
        {
            string param = $"messages[{index++}]";
            if (item.ValueKind != JsonValueKind.Object) throw ApiError.BadRequest($"'{param}' must be an object.", param);
            var message = new RequestFields(item);
            string role = message.String("role") ?? throw ApiError.BadRequest($"'{param}.role' is required.", $"{param}.role");
            // OpenAI's newer "developer" role is the system prompt under another name.
            if (role == "developer") role = "system";
            if (role is not ("system" or "user" or "assistant" or "tool"))
                throw ApiError.BadRequest($"'{param}.role' is '{role}'; expected system, developer, user, assistant or tool.", $"{param}.role");
            messages.Add(new ChatMessage(new ChatRole(role), Content(item, $"{param}.content")));
        }
        if (messages.Count == 0) throw ApiError.BadRequest("'messages' is empty; give at least one message.", "messages");
        return messages;
    }

    /// <summary>A message's text: a string, or an array of parts of which only text parts are understood.</summary>
    private static string Content(JsonElement message, string param)
    {
        if (!message.TryGetProperty("content", out JsonElement content) || content.ValueKind == JsonValueKind.Null) return "";
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array) throw ApiError.BadRequest($"'{param}' must be a string or an array of parts.", param);
        var text = new System.Text.StringBuilder();
        foreach (JsonElement part in content.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out JsonElement type) || type.GetString() != "text"
                || !part.TryGetProperty("text", out JsonElement value) || value.ValueKind != JsonValueKind.String)
                throw ApiError.BadRequest($"'{param}' holds a part this server does not take; only {{\"type\": \"text\", \"text\": ...}} parts.", param);
            text.Append(value.GetString());
        }
        return text.ToString();
    }

    /// <summary>Generates the reply and writes it, whole or as events.</summary>
    public async Task WriteAsync(HttpContext context, Reply reply)
    {
        CancellationToken ct = context.RequestAborted;
        string param = reply.Chat ? "messages" : "prompt";
        IAsyncEnumerator<ChatResponseUpdate> updates = Translate(() => client.GetStreamingResponseAsync(reply.Messages, reply.Options, ct).GetAsyncEnumerator(ct), param);
        await using (updates.ConfigureAwait(false))
        {
            // The first update is awaited before anything is written, so an error the client raises lazily is still a 4xx.
            bool any = await Translate(() => updates.MoveNextAsync().AsTask(), param).ConfigureAwait(false);
            var writer = new ReplyWriter(context.Response, reply, modelId);
            if (reply.Stream) await writer.StreamAsync(updates, any, ct).ConfigureAwait(false);
            else await writer.WholeAsync(updates, any, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The client's argument errors as OpenAI's 400s.</summary>
    internal static T Translate<T>(Func<T> call, string param)
    {
        try
        {
            return call();
        }
        catch (Exception e) when (ToApiError(e, param) is { } error)
        {
            throw error;
        }
    }

    private static async Task<T> Translate<T>(Func<Task<T>> call, string param)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception e) when (ToApiError(e, param) is { } error)
        {
            throw error;
        }
    }

    internal static ApiError? ToApiError(Exception e, string param) => e switch
    {
        ContextLengthExceededException c => ApiError.BadRequest(c.Message, param, "context_length_exceeded"),
        ArgumentOutOfRangeException a => ApiError.BadRequest(a.Message, null, "invalid_value"),
        ArgumentException a => ApiError.BadRequest(a.Message, param),
        _ => null,
    };

    /// <summary>A request read and checked: what to generate and how to answer.</summary>
    public sealed record Reply(List<ChatMessage> Messages, ChatOptions Options, bool Stream, bool IncludeUsage, bool Chat);
}
