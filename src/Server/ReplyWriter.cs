using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;

namespace MlPipelines.Server;

/// <summary>
/// Writes a reply in OpenAI's shapes: <c>chat.completion</c> / <c>text_completion</c> objects, or their chunks as
/// server-sent events (<c>data: {chunk}</c>, a blank line, and <c>data: [DONE]</c> at the end).
/// </summary>
internal sealed class ReplyWriter(HttpResponse response, ChatEndpoints.Reply reply, string modelId)
{
    private static readonly byte[] Data = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();

    private string _id = Guid.NewGuid().ToString("N");
    private long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private string Id => (reply.Chat ? "chatcmpl-" : "cmpl-") + _id;
    private string Object => reply.Chat ? (reply.Stream ? "chat.completion.chunk" : "chat.completion") : "text_completion";

    /// <summary>Collects every update and writes one object.</summary>
    public async Task WholeAsync(IAsyncEnumerator<ChatResponseUpdate> updates, bool any, CancellationToken ct)
    {
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        UsageDetails? usage = null;
        for (bool more = any; more; more = await updates.MoveNextAsync().ConfigureAwait(false))
        {
            ct.ThrowIfCancellationRequested();
            Note(updates.Current, ref finish, ref usage);
            text.Append(updates.Current.Text);
        }
        await JsonBody.WriteAsync(response, json =>
        {
            Head(json);
            json.WriteStartArray("choices");
            json.WriteStartObject();
            json.WriteNumber("index", 0);
            if (reply.Chat)
            {
                json.WriteStartObject("message");
                json.WriteString("role", "assistant");
                json.WriteString("content", text.ToString());
                json.WriteEndObject();
            }
            else json.WriteString("text", text.ToString());
            json.WriteNull("logprobs");
            json.WriteString("finish_reason", FinishReason(finish));
            json.WriteEndObject();
            json.WriteEndArray();
            Usage(json, usage);
            json.WriteEndObject();
        }).ConfigureAwait(false);
    }

    /// <summary>Writes each piece of text as an event as it arrives, then the finish reason, the usage if asked for, and [DONE].</summary>
    public async Task StreamAsync(IAsyncEnumerator<ChatResponseUpdate> updates, bool any, CancellationToken ct)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        ChatFinishReason? finish = null;
        UsageDetails? usage = null;
        // The first update names the response, so every chunk (the role's too) carries the same id.
        if (any) Note(updates.Current, ref finish, ref usage);
        if (reply.Chat) await EventAsync(json => Chunk(json, role: true, text: "", finish: null), ct).ConfigureAwait(false);
        try
        {
            for (bool more = any; more; more = await updates.MoveNextAsync().ConfigureAwait(false))
            {
                Note(updates.Current, ref finish, ref usage);
                string text = updates.Current.Text;
                if (text.Length > 0) await EventAsync(json => Chunk(json, role: false, text, finish: null), ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (!ct.IsCancellationRequested && ChatEndpoints.ToApiError(e, reply.Chat ? "messages" : "prompt") is { } error)
        {
            // The status line is already sent: the error goes to the client as an event, as OpenAI's servers do.
            await EventAsync(error.WriteTo, ct).ConfigureAwait(false);
            return;
        }
        await EventAsync(json => Chunk(json, role: false, text: reply.Chat ? null : "", FinishReason(finish)), ct).ConfigureAwait(false);
        if (reply.IncludeUsage)
            await EventAsync(json =>
            {
                Head(json);
                json.WriteStartArray("choices");
                json.WriteEndArray();
                Usage(json, usage);
                json.WriteEndObject();
            }, ct).ConfigureAwait(false);
        await response.Body.WriteAsync("data: [DONE]\n\n"u8.ToArray(), ct).ConfigureAwait(false);
        await response.Body.FlushAsync(ct).ConfigureAwait(false);
    }

    private void Note(ChatResponseUpdate update, ref ChatFinishReason? finish, ref UsageDetails? usage)
    {
        if (update.ResponseId is { Length: > 0 } id) _id = id;
        if (update.CreatedAt is { } created) _created = created.ToUnixTimeSeconds();
        finish ??= update.FinishReason;
        foreach (UsageContent content in update.Contents.OfType<UsageContent>()) usage = content.Details;
    }

    private static string FinishReason(ChatFinishReason? finish) => finish == ChatFinishReason.Length ? "length" : "stop";

    private void Head(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("id", Id);
        json.WriteString("object", Object);
        json.WriteNumber("created", _created);
        json.WriteString("model", modelId);
    }

    /// <summary>One chunk: a delta with the role (first chunk) and/or text, or the finish reason.</summary>
    private void Chunk(Utf8JsonWriter json, bool role, string? text, string? finish)
    {
        Head(json);
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        if (reply.Chat)
        {
            json.WriteStartObject("delta");
            if (role) json.WriteString("role", "assistant");
            if (text is not null) json.WriteString("content", text);
            json.WriteEndObject();
        }
        else json.WriteString("text", text ?? "");
        json.WriteNull("logprobs");
        json.WriteString("finish_reason", finish);
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void Usage(Utf8JsonWriter json, UsageDetails? usage)
    {
        json.WriteStartObject("usage");
        long prompt = usage?.InputTokenCount ?? 0, completion = usage?.OutputTokenCount ?? 0;
        json.WriteNumber("prompt_tokens", prompt);
        json.WriteNumber("completion_tokens", completion);
        json.WriteNumber("total_tokens", usage?.TotalTokenCount ?? prompt + completion);
        json.WriteEndObject();
    }

    private async Task EventAsync(Action<Utf8JsonWriter> write, CancellationToken ct)
    {
        await response.Body.WriteAsync(Data, ct).ConfigureAwait(false);
        await response.Body.WriteAsync(JsonBody.ToBytes(write), ct).ConfigureAwait(false);
        await response.Body.WriteAsync(EventEnd, ct).ConfigureAwait(false);
        // Each event leaves at once, so a client sees every piece of text as it is generated.
        await response.Body.FlushAsync(ct).ConfigureAwait(false);
    }
}
