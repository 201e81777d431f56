//! The shared data model: Article, Story, language codes and dates.
