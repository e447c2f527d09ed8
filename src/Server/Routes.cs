using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.AI;

namespace MlPipelines.Server;

/// <summary>The endpoints, and what every request passes through: the API key, the error shape, the bounded queue.</summary>
internal sealed class Routes(IChatClient chat, IEmbeddingGenerator<string, Embedding<float>>? embeddings, string modelId, string? apiKey, Admission admission)
{
    public void Map(WebApplication app)
    {
        app.Use(Errors);
        app.Use(Authorize);
        var completions = new ChatEndpoints(chat, modelId);
        app.MapPost("/v1/chat/completions", context => Generate(context, fields => completions.ReadChat(fields), completions.WriteAsync));
        app.MapPost("/v1/completions", context => Generate(context, fields => completions.ReadCompletion(fields), completions.WriteAsync));
        if (embeddings is not null)
        {
            var endpoint = new EmbeddingEndpoint(embeddings, modelId);
            app.MapPost("/v1/embeddings", context => Admitted(context, async () =>
            {
                using var body = await JsonBody.ReadObjectAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
                await endpoint.HandleAsync(context, new RequestFields(body.RootElement)).ConfigureAwait(false);
            }));
        }
        app.MapGet("/v1/models", Models);
        app.MapGet("/health", context => JsonBody.WriteAsync(context.Response, json =>
        {
            json.WriteStartObject();
            json.WriteString("status", "ok");
            json.WriteEndObject();
        }));
        app.MapFallback(context => throw new ApiError(StatusCodes.Status404NotFound,
            $"No endpoint {context.Request.Method} {context.Request.Path}; this server has /v1/chat/completions, /v1/completions, " +
            "/v1/embeddings, /v1/models and /health."));
    }

    /// <summary>Reads and checks the request first (a bad one never takes a queue place), then generates once admitted.</summary>
    private async Task Generate(HttpContext context, Func<RequestFields, ChatEndpoints.Reply> read, Func<HttpContext, ChatEndpoints.Reply, Task> write)
    {
        ChatEndpoints.Reply reply;
        using (var body = await JsonBody.ReadObjectAsync(context.Request, context.RequestAborted).ConfigureAwait(false))
            reply = read(new RequestFields(body.RootElement));
        await Admitted(context, () => write(context, reply)).ConfigureAwait(false);
    }

    private async Task Admitted(HttpContext context, Func<Task> handle)
    {
        if (!admission.TryEnter())
            throw new ApiError(StatusCodes.Status429TooManyRequests,
                $"The server is busy: {admission.Running} request(s) running and {admission.Queued} waiting, the most it takes; retry later.",
                code: "rate_limit_exceeded", type: "rate_limit_error");
        try
        {
            await handle().ConfigureAwait(false);
        }
        finally
        {
            admission.Exit();
        }
    }

    private Task Models(HttpContext context) => JsonBody.WriteAsync(context.Response, json =>
    {
        json.WriteStartObject();
        json.WriteString("object", "list");
        json.WriteStartArray("data");
        json.WriteStartObject();
        json.WriteString("id", modelId);
        json.WriteString("object", "model");
        json.WriteNumber("created", 0);
        json.WriteString("owned_by", AI.LlamaChatClient.ProviderName);
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    });

    private Task Authorize(HttpContext context, RequestDelegate next)
    {
        // /health stays open, so a load balancer can probe without the key.
        if (apiKey is null || context.Request.Path.StartsWithSegments("/health")) return next(context);
        string? header = context.Request.Headers.Authorization;
        if (header is null || !header.StartsWith("Bearer ", StringComparison.Ordinal) || !FixedTimeEquals(header["Bearer ".Length..].Trim(), apiKey))
            throw new ApiError(StatusCodes.Status401Unauthorized,
                header is null ? "No API key: send the header 'Authorization: Bearer KEY'." : "The API key is not valid.", code: "invalid_api_key");
        return next(context);
    }

    private static bool FixedTimeEquals(string a, string b) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(a), System.Text.Encoding.UTF8.GetBytes(b));

    /// <summary>Every refusal as OpenAI's JSON error; a disconnected client is simply let go; anything unexpected is a 500 JSON error.</summary>
    private static async Task Errors(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; its generation has stopped and there is no one to answer.
        }
        catch (ApiError error) when (!context.Response.HasStarted)
        {
            await error.WriteAsync(context.Response).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            await new ApiError(e.StatusCode, e.Message).WriteAsync(context.Response).ConfigureAwait(false);
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            await new ApiError(StatusCodes.Status500InternalServerError, $"The server failed: {e.Message}", type: "server_error").WriteAsync(context.Response).ConfigureAwait(false);
        }
    }
}
