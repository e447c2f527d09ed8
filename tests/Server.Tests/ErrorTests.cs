using System.Net;
using System.Text;
using System.Text.Json;

namespace MlPipelines.Server.Tests;

/// <summary>Bad requests, sent as raw HTTP: each gets its 4xx status and OpenAI's error object, never a 500 or a dropped connection.</summary>
public class ErrorTests
{
    private const string Chat = "/v1/chat/completions";
    private const string Messages = """ "messages": [{"role": "user", "content": "Once upon a time"}] """;

    public static TheoryData<string, string, int, string?, string?> Cases => new()
    {
        // path, body, status, param, code
        { Chat, """{"messages": [""", 400, null, null },
        { Chat, "[]", 400, null, null },
        { Chat, "", 400, null, null },
        { Chat, $$"""{"model": "gpt-4o", {{Messages}}}""", 404, "model", "model_not_found" },
        { Chat, """{"model": "stories260K"}""", 400, "messages", null },
        { Chat, """{"messages": []}""", 400, "messages", null },
        { Chat, """{"messages": [{"content": "hi"}]}""", 400, "messages[0].role", null },
        { Chat, """{"messages": [{"role": "wizard", "content": "hi"}]}""", 400, "messages[0].role", null },
        { Chat, $$"""{"temperature": -0.5, {{Messages}}}""", 400, "temperature", "invalid_value" },
        { Chat, $$"""{"temperature": "hot", {{Messages}}}""", 400, "temperature", null },
        { Chat, $$"""{"top_p": 0, {{Messages}}}""", 400, "top_p", "invalid_value" },
        { Chat, $$"""{"top_p": 1.5, {{Messages}}}""", 400, "top_p", "invalid_value" },
        { Chat, $$"""{"max_tokens": 0, {{Messages}}}""", 400, "max_tokens", "invalid_value" },
        { Chat, $$"""{"max_completion_tokens": -3, {{Messages}}}""", 400, "max_completion_tokens", "invalid_value" },
        { Chat, $$"""{"stop": 5, {{Messages}}}""", 400, "stop", null },
        { Chat, $$"""{"n": 2, {{Messages}}}""", 400, "n", "invalid_value" },
        // stories260K's context is 512 tokens; 600 words cannot fit.
        { Chat, $$"""{"messages": [{"role": "user", "content": "{{string.Concat(Enumerable.Repeat("dog ", 600))}}"}]}""", 400, "messages", "context_length_exceeded" },
        { Chat, $$"""{"stream": true, "messages": [{"role": "user", "content": "{{string.Concat(Enumerable.Repeat("dog ", 600))}}"}]}""", 400, "messages", "context_length_exceeded" },
        { "/v1/completions", """{"max_tokens": 5}""", 400, "prompt", null },
        { "/v1/completions", """{"prompt": ["a", "b"]}""", 400, "prompt", null },
        { "/v1/completions", $$"""{"prompt": "{{string.Concat(Enumerable.Repeat("dog ", 600))}}"}""", 400, "prompt", "context_length_exceeded" },
        { "/v1/embeddings", """{"model": "stories260K"}""", 400, "input", null },
        { "/v1/embeddings", """{"input": [1, 2, 3]}""", 400, "input", null },
        { "/v1/embeddings", """{"input": []}""", 400, "input", null },
        { "/v1/embeddings", """{"input": "hi", "encoding_format": "int8"}""", 400, "encoding_format", "invalid_value" },
        { "/v1/embeddings", """{"input": "hi", "dimensions": 3}""", 400, "dimensions", null },
        { "/v1/embeddings", """{"input": "hi", "model": "text-embedding-3-small"}""", 404, "model", "model_not_found" },
        { "/v1/nothing", "{}", 404, null, null },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_request_gets_its_status_and_an_OpenAI_error_object(string path, string body, int status, string? param, string? code)
    {
        await using ServedModel served = await ServedModel.StartAsync();
        using HttpClient http = served.Http();

        using HttpResponseMessage response = await http.PostAsync(path.TrimStart('/'), new StringContent(body, Encoding.UTF8, "application/json"));

        await AssertError(response, status, param, code);
    }

    internal static async Task AssertError(HttpResponseMessage response, int status, string? param, string? code)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"status {(int)response.StatusCode}, expected {status}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using JsonDocument json = JsonDocument.Parse(text);
        JsonElement error = json.RootElement.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("type").GetString()));
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_request_without_the_API_key_is_refused_with_401_and_with_it_is_served()
    {
        await using ServedModel served = await ServedModel.StartAsync(new OpenAiServerOptions { ApiKey = "s3cret" });
        using HttpClient http = served.Http();

        using (HttpResponseMessage none = await http.GetAsync("v1/models"))
            await AssertError(none, 401, null, "invalid_api_key");
        using (var wrong = new HttpRequestMessage(HttpMethod.Get, "v1/models") { Headers = { { "Authorization", "Bearer guess" } } })
        using (HttpResponseMessage response = await http.SendAsync(wrong))
            await AssertError(response, 401, null, "invalid_api_key");
        using (var right = new HttpRequestMessage(HttpMethod.Get, "v1/models") { Headers = { { "Authorization", "Bearer s3cret" } } })
        using (HttpResponseMessage response = await http.SendAsync(right))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using JsonDocument models = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal(ServedModel.ModelId, models.RootElement.GetProperty("data")[0].GetProperty("id").GetString());
        }
        // The health probe needs no key.
        using (HttpResponseMessage health = await http.GetAsync("health"))
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);

        // The OpenAI client sends the key as a bearer token.
        using var openAi = served.OpenAiChat("s3cret");
        var reply = await Microsoft.Extensions.AI.ChatClientExtensions.GetResponseAsync(openAi, "Once upon a time",
            new Microsoft.Extensions.AI.ChatOptions { MaxOutputTokens = 5 });
        Assert.Equal(5, reply.Usage!.OutputTokenCount);
    }
}
