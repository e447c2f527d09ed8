using System.Text.Json.Nodes;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Tokenization.HuggingFace;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization.HuggingFace;

public class Llama3SpecialTokenTests
{
    private const int BeginOfText = 128000, EndOfText = 128001, EotId = 128009;

    [Fact]
    public void Special_tokens_in_plain_text_are_text_unless_asked_for()
    {
        var tok = Llama3Files.Tokenizer;
        const string text = "Hi<|eot_id|>";
        int[] plain = tok.Encode(text, addBos: false, addEos: false);
        Assert.DoesNotContain(EotId, plain);
        Assert.Equal(text, tok.Decode(plain));

        int[] parsed = tok.Encode(text, addBos: false, addEos: false, parseSpecialTokens: true);
        Assert.Equal([.. tok.Encode("Hi", false, false), EotId], parsed);
        Assert.Equal("<|eot_id|>", System.Text.Encoding.UTF8.GetString(tok.GetPieceBytes(parsed[^2], EotId)));
        // Decode skips special tokens, as tokenizers' skip_special_tokens.
        Assert.Equal("Hi", tok.Decode(parsed));

        var asking = HuggingFaceTokenizer.Load(Llama3Files.TokenizerJson, parseSpecialTokens: true);
        Assert.True(asking.ParseSpecialTokens);
        Assert.Equal(parsed, asking.Encode(text, false, false));
        Assert.Equal(parsed, asking.EncodeToIds(text).ToArray());
    }

    [Fact]
    public void A_chat_prompt_encodes_with_its_control_tokens()
    {
        var tok = Llama3Files.Tokenizer;
        string prompt = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
        int[] ids = tok.Encode(prompt, addBos: false, addEos: false, parseSpecialTokens: true);
        Assert.Equal(BeginOfText, ids[0]);
        Assert.Equal(128006, ids[1]);
        Assert.Equal(4, ids.Count(id => tok.IsSpecial(id) && id is 128006 or 128007));
        Assert.True(tok.TryGetTokenId("<|eot_id|>", out int eot) && eot == EotId);
    }

    [Fact]
    public void The_shipped_file_adds_no_bos_itself_but_names_it_in_its_config()
    {
        // This tokenizer.json's post-processor is ByteLevel (no template): like transformers, the plain API
        // adds nothing; tokenizer_config.json names BOS and EOS, which explicit requests use.
        var tok = Llama3Files.Tokenizer;
        Assert.False(tok.AddBeginningOfSentence);
        Assert.Equal(BeginOfText, tok.BosId);
        Assert.Equal(EndOfText, tok.EosId);
        Assert.Equal(128256, tok.VocabularySize);
        Assert.Equal(tok.Encode("Hello", false, false), tok.EncodeToIds("Hello").ToArray());
        Assert.Equal([BeginOfText, .. tok.Encode("Hello", false, false), EndOfText], tok.Encode("Hello", true, true));
    }

    [Fact]
    public void Bos_comes_from_a_template_post_processor()
    {
        // Meta's own Llama 3 tokenizer.json: TemplateProcessing with <|begin_of_text|> before the sequence.
        using var dir = new TempDir();
        JsonNode root = JsonNode.Parse(File.ReadAllText(Llama3Files.TokenizerJson))!;
        root["post_processor"] = JsonNode.Parse("""
            {"type":"TemplateProcessing",
             "single":[{"SpecialToken":{"id":"<|begin_of_text|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
             "pair":[{"SpecialToken":{"id":"<|begin_of_text|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"<|begin_of_text|>","type_id":1}},{"Sequence":{"id":"B","type_id":1}}],
             "special_tokens":{"<|begin_of_text|>":{"id":"<|begin_of_text|>","ids":[128000],"tokens":["<|begin_of_text|>"]}}}
            """);
        File.WriteAllText(dir.File("tokenizer.json"), root.ToJsonString());
        var tok = Assert.IsType<HuggingFaceTokenizer>(TokenizerLoader.Load(dir.File("tokenizer.json")));
        Assert.True(tok.AddBeginningOfSentence);
        Assert.Equal(BeginOfText, tok.BosId);
        Assert.Equal(-1, tok.EosId); // no config beside it, and the template puts nothing after the text
        Assert.Equal([BeginOfText, .. Llama3Files.Tokenizer.Encode("Hello world", false, false)], tok.EncodeToIds("Hello world").ToArray());

        // A tokenizer_config.json beside it overrides, as transformers lets it.
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"add_bos_token": false, "bos_token": {"content": "<|begin_of_text|>"}, "eos_token": "<|eot_id|>"}""");
        var configured = HuggingFaceTokenizer.Load(dir.File("tokenizer.json"));
        Assert.False(configured.AddBeginningOfSentence);
        Assert.Equal(EotId, configured.EosId);
    }
}
