/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Korean analysis for OpenSearch on Lucene's nori module. The component names and
 * their settings follow OpenSearch's own analysis-nori plugin, so index mappings
 * written for that plugin work unchanged on a node that runs this one.
 */
package org.nsparse.opensearch.nori;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.ko.KoreanAnalyzer;
import org.apache.lucene.analysis.ko.KoreanNumberFilter;
import org.apache.lucene.analysis.ko.KoreanPartOfSpeechStopFilter;
import org.apache.lucene.analysis.ko.KoreanReadingFormFilter;
import org.apache.lucene.analysis.ko.KoreanTokenizer;
import org.apache.lucene.analysis.ko.POS;
import org.apache.lucene.analysis.ko.dict.UserDictionary;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.IndexSettings;
import org.opensearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.opensearch.index.analysis.AbstractTokenFilterFactory;
import org.opensearch.index.analysis.AbstractTokenizerFactory;
import org.opensearch.index.analysis.Analysis;
import org.opensearch.index.analysis.AnalyzerProvider;
import org.opensearch.index.analysis.TokenFilterFactory;
import org.opensearch.index.analysis.TokenizerFactory;
import org.opensearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.opensearch.plugins.AnalysisPlugin;
import org.opensearch.plugins.Plugin;

import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/** Registers nori_tokenizer, the nori_part_of_speech / nori_readingform / nori_number filters and the nori analyzer. */
public class AnalysisNoriPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of("nori_tokenizer", NoriTokenizerFactory::new);
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            "nori_part_of_speech", PartOfSpeechStopFilterFactory::new,
            "nori_readingform", ReadingFormFilterFactory::new,
            "nori_number", NumberFilterFactory::new
        );
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of("nori", NoriAnalyzerProvider::new);
    }

    /** `decompound_mode`: none | discard (default) | mixed. */
    static KoreanTokenizer.DecompoundMode decompoundMode(Settings settings) {
        String mode = settings.get("decompound_mode");
        return mode == null ? KoreanTokenizer.DEFAULT_DECOMPOUND : KoreanTokenizer.DecompoundMode.valueOf(mode.toUpperCase(Locale.ROOT));
    }

    /** `user_dictionary` (a file under the config dir) or inline `user_dictionary_rules`, never both; null when neither. */
    static UserDictionary userDictionary(Environment env, Settings settings) {
        if (settings.get("user_dictionary") != null && settings.get("user_dictionary_rules") != null) {
            throw new IllegalArgumentException("It is not allowed to use [user_dictionary] in conjunction with [user_dictionary_rules]");
        }
        List<String> rules = Analysis.parseWordList(env, settings, "user_dictionary", "user_dictionary_rules", rule -> rule);
        if (rules == null || rules.isEmpty()) {
            return null;
        }
        try {
            return UserDictionary.open(new StringReader(String.join("\n", rules)));
        } catch (IOException e) {
            throw new UncheckedIOException("failed to load nori user dictionary", e);
        }
    }

    /** `stoptags` (inline list) or `stoptags_path`; Lucene's default stop tags when neither is given. */
    static Set<POS.Tag> stopTags(Environment env, Settings settings) {
        List<String> tags = Analysis.parseWordList(env, settings, "stoptags", tag -> tag);
        return tags == null ? KoreanPartOfSpeechStopFilter.DEFAULT_STOP_TAGS : tags.stream().map(POS::resolveTag).collect(Collectors.toSet());
    }

    static final class NoriTokenizerFactory extends AbstractTokenizerFactory {
        private final UserDictionary userDictionary;
        private final KoreanTokenizer.DecompoundMode decompoundMode;
        private final boolean discardPunctuation;

        NoriTokenizerFactory(IndexSettings indexSettings, Environment env, String name, Settings settings) {
            super(indexSettings, settings, name);
            decompoundMode = decompoundMode(settings);
            userDictionary = userDictionary(env, settings);
            discardPunctuation = settings.getAsBoolean("discard_punctuation", true);
        }

        @Override
        public Tokenizer create() {
            return new KoreanTokenizer(KoreanTokenizer.DEFAULT_TOKEN_ATTRIBUTE_FACTORY, userDictionary, decompoundMode, false, discardPunctuation);
        }
    }

    static final class PartOfSpeechStopFilterFactory extends AbstractTokenFilterFactory {
        private final Set<POS.Tag> stopTags;

        PartOfSpeechStopFilterFactory(IndexSettings indexSettings, Environment env, String name, Settings settings) {
            super(indexSettings, name, settings);
            stopTags = stopTags(env, settings);
        }

        @Override
        public TokenStream create(TokenStream tokenStream) {
            return new KoreanPartOfSpeechStopFilter(tokenStream, stopTags);
        }
    }

    static final class ReadingFormFilterFactory extends AbstractTokenFilterFactory {
        ReadingFormFilterFactory(IndexSettings indexSettings, Environment env, String name, Settings settings) {
            super(indexSettings, name, settings);
        }

        @Override
        public TokenStream create(TokenStream tokenStream) {
            return new KoreanReadingFormFilter(tokenStream);
        }
    }

    static final class NumberFilterFactory extends AbstractTokenFilterFactory {
        NumberFilterFactory(IndexSettings indexSettings, Environment env, String name, Settings settings) {
            super(indexSettings, name, settings);
        }

        @Override
        public TokenStream create(TokenStream tokenStream) {
            return new KoreanNumberFilter(tokenStream);
        }
    }

    static final class NoriAnalyzerProvider extends AbstractIndexAnalyzerProvider<KoreanAnalyzer> {
        private final KoreanAnalyzer analyzer;

        NoriAnalyzerProvider(IndexSettings indexSettings, Environment env, String name, Settings settings) {
            super(indexSettings, name, settings);
            analyzer = new KoreanAnalyzer(userDictionary(env, settings), decompoundMode(settings), stopTags(env, settings), false);
        }

        @Override
        public KoreanAnalyzer get() {
            return analyzer;
        }
    }
}
