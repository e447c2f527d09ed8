using System.Net;
using System.Text;
using System.Text.Json;
using MlPipelines.AI.Tests;
using MlPipelines.ManagedEngine.Sampling;

namespace MlPipelines.Server.Tests;

/// <summary>
/// <c>/v1/completions</c> (raw HTTP: the OpenAI .NET client has no legacy completions call) continues the prompt as the
/// library's Generator does, whole and streamed; and the listing endpoints' shapes.
/// </summary>
public class CompletionTests
{
    private const string Body = """{"model": "stories260K", "prompt": "Once upon a time", "max_tokens": 30, "temperature": 0.8, "top_p": 0.9, "seed": 3STREAM}""";

    private static string Expected(ServedModel served) => Reference.Generate(served.Model.Model, served.Model.Tokenizer,
        Reference.Plain(served.Model.Tokenizer, "Once upon a time"), new SamplingOptions { Temperature = 0.8f, TopP = 0.9f, Seed = 3 }, 30).Text;

    [Fact]
    public async Task A_completion_equals_the_generator_on_the_plain_prompt()
    {
        await using ServedModel served = await ServedModel.StartAsync();
        using HttpClient http = served.Http();

        using HttpResponseMessage response = await http.PostAsync("v1/completions", new StringContent(Body.Replace("STREAM", ""), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using JsonDocument json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        JsonElement choice = json.RootElement.GetProperty("choices")[0];
        Assert.Equal("text_completion", json.RootElement.GetProperty("object").GetString());
        Assert.Equal(Expected(served), choice.GetProperty("text").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(30, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task A_streamed_completion_joins_to_the_same_text_and_ends_with_DONE()
    {
        await using ServedModel served = await ServedModel.StartAsync();
        using HttpClient http = served.Http();

        using HttpResponseMessage response = await http.PostAsync("v1/completions", new StringContent(Body.Replace("STREAM", ", \"stream\": true"), Encoding.UTF8, "application/json"));

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        string[] events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        var text = new StringBuilder();
        string? finish = null;
        foreach (string e in events[..^1])
        {
            Assert.StartsWith("data: ", e);
            using JsonDocument chunk = JsonDocument.Parse(e["data: ".Length..]);
            JsonElement choice = chunk.RootElement.GetProperty("choices")[0];
            text.Append(choice.GetProperty("text").GetString());
            finish ??= choice.GetProperty("finish_reason").GetString();
        }
        Assert.Equal(Expected(served), text.ToString());
        Assert.Equal("length", finish);
    }

    [Fact]
    public async Task Models_lists_the_served_model_and_health_answers_ok()
    {
        await using ServedModel served = await ServedModel.StartAsync();
        using HttpClient http = served.Http();

        using JsonDocument models = JsonDocument.Parse(await http.GetStringAsync("v1/models"));
        JsonElement model = Assert.Single(models.RootElement.GetProperty("data").EnumerateArray());
        Assert.Equal(ServedModel.ModelId, model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
        using JsonDocument health = JsonDocument.Parse(await http.GetStringAsync("health"));
        Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
    }
}
