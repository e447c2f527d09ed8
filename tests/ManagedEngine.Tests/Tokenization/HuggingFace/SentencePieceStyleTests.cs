using System.Text;
using System.Text.Json.Nodes;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.ManagedEngine.Tokenization.HuggingFace;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization.HuggingFace;

/// <summary>
/// The SentencePiece-style tokenizer.json of LlamaTokenizerFast (Llama 2, TinyLlama, Mistral): normalizer
/// Prepend("▁") + Replace(" ", "▁"), BPE with byte fallback and &lt;0xXX&gt; tokens, decoders Replace,
/// ByteFallback, Fuse, Strip.
/// </summary>
/// <remarks>
/// No converter independent of this repository is available here (transformers' convert_slow_tokenizer is
/// Python), so the file is built in the test the way transformers' LlamaConverter builds it: the Llama 2
/// pieces as the vocabulary, and as merges every split of a piece into two pieces, ordered by the merged
/// piece's score (SentencePieceExtractor). The construction is then held to two references it does not
/// share code with: llama.cpp's Llama 2 suite (whose ids Hugging Face's fast tokenizer produced) and the
/// SentencePiece .model tokenizer, which is tested against sentencepiece itself.
/// </remarks>
public class SentencePieceStyleTests
{
    private static readonly Lazy<(HuggingFaceTokenizer Json, SentencePieceModelTokenizer Spm)> Shared = new(Build);

    private static (HuggingFaceTokenizer, SentencePieceModelTokenizer) Build()
    {
        var spm = SentencePieceModelTokenizer.Load(TestPaths.Llama2TokenizerModel);
        var vocab = new JsonObject();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < spm.VocabularySize; id++)
        {
            vocab[spm.GetPiece(id)] = id;
            ids[spm.GetPiece(id)] = id;
        }
        // SentencePieceExtractor.extract: per piece (in id order) its splits into two pieces, sorted by the parts' ids;
        // then all of them stably sorted by the merged piece's score, highest first.
        var merges = new List<(string Left, string Right, float Score)>();
        for (int id = 0; id < spm.VocabularySize; id++)
        {
            string piece = spm.GetPiece(id);
            var local = new List<(string, string, float)>();
            for (int i = 1; i < piece.Length; i++)
                if (ids.ContainsKey(piece[..i]) && ids.ContainsKey(piece[i..]))
                    local.Add((piece[..i], piece[i..], spm.GetScore(id)));
            merges.AddRange(local.OrderBy(m => ids[m.Item1]).ThenBy(m => ids[m.Item2]));
        }
        var ordered = merges.OrderByDescending(m => m.Score).ToList(); // LINQ's OrderBy is stable
        var mergeArray = new JsonArray(ordered.Select(m => (JsonNode)new JsonArray(m.Left, m.Right)).ToArray());

        var root = JsonNode.Parse("""
            {"version":"1.0","truncation":null,"padding":null,
             "added_tokens":[
               {"id":0,"content":"<unk>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
               {"id":1,"content":"<s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
               {"id":2,"content":"</s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
             "normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},
             "pre_tokenizer":null,
             "post_processor":{"type":"TemplateProcessing",
               "single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
               "pair":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"<s>","type_id":1}},{"Sequence":{"id":"B","type_id":1}}],
               "special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}},
             "decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]},
             "model":{"type":"BPE","dropout":null,"unk_token":"<unk>","continuing_subword_prefix":null,"end_of_word_suffix":null,
               "fuse_unk":true,"byte_fallback":true,"ignore_merges":false}}
            """)!;
        root["model"]!["vocab"] = vocab;
        root["model"]!["merges"] = mergeArray;
        string dir = Path.Combine(Path.GetTempPath(), "mlpipe-spm-style-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(path, root.ToJsonString());
        var json = Assert.IsType<HuggingFaceTokenizer>(TokenizerLoader.Load(path, expectedVocabSize: 32000));
        Directory.Delete(dir, recursive: true);
        return (json, spm);
    }

    [Fact]
    public void Encodes_llama_cpp_llama_spm_suite()
    {
        var tok = Shared.Value.Json;
        var cases = TokenizerCases.LlamaCpp("ggml-vocab-llama-spm.gguf");
        var failures = cases.Where(c => !tok.Encode(c.Text, false, false).SequenceEqual(c.Ids))
            .Select(c => $"{Llama3SuiteTests.Escape(c.Text)}: expected [{string.Join(' ', c.Ids)}], got [{string.Join(' ', tok.Encode(c.Text, false, false))}]").ToList();
        Assert.True(failures.Count == 0, $"{cases.Count - failures.Count}/{cases.Count} cases pass:\n" + string.Join('\n', failures));
    }

    [Fact]
    public void Agrees_with_the_sentencepiece_model_tokenizer()
    {
        var (json, spm) = Shared.Value;
        Assert.True(json.AddBeginningOfSentence);
        Assert.Equal(1, json.BosId);
        var texts = ExtraTexts.All.Concat(TokenizerCases.Llama2Vectors().Select(v => v.Text))
            .Concat(TokenizerCases.LlamaCpp("ggml-vocab-llama-spm.gguf").Select(c => c.Text)).ToList();
        foreach (string text in texts)
        {
            int[] ids = spm.Encode(text, addBos: true, addEos: false);
            Assert.True(ids.SequenceEqual(json.EncodeToIds(text).ToArray()), Llama3SuiteTests.Escape(text));
            Assert.Equal(spm.Decode(ids), json.Decode(ids));
        }
        foreach (var (text, expected) in TokenizerCases.Llama2Vectors())
            Assert.Equal(expected, json.Encode(text, addBos: true, addEos: false));
    }

    [Fact]
    public void Piece_bytes_after_bos_concatenate_to_the_text()
    {
        var json = Shared.Value.Json;
        foreach (string text in ExtraTexts.All.Where(t => t.Length > 0))
        {
            int[] ids = json.Encode(text, addBos: true, addEos: false);
            var bytes = new List<byte>();
            for (int i = 1; i < ids.Length; i++) bytes.AddRange(json.GetPieceBytes(ids[i - 1], ids[i]).ToArray());
            Assert.True(Encoding.UTF8.GetBytes(text).SequenceEqual(bytes), Llama3SuiteTests.Escape(text));
        }
        // A byte-fallback token prints its single raw byte.
        Assert.True(json.TryGetTokenId("<0xE4>", out int e4));
        Assert.Equal([0xE4], json.GetPieceBytes(100, e4).ToArray());
    }
}
