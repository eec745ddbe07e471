import Config
import Decisions
import Ingest

extension PipelineConfig {
    /// The false-alarm budget's cut as this pipeline starts from it: its decision settings at the rate its frames
    /// are sampled. The decide stage adapts its own copy during the burn-in; refit validation judges both models by
    /// this one.
    var initialBudget: BudgetCut {
        BudgetCut(settings: decision, framesPerSecond: sourceOptions.sampleFPS ?? SourceOptions.configuredSampleFPS)
    }
}
