import ArgumentParser
import VSurveyCLI

VSurvey.main()
